import { TEST_IMAGE, type Dockerd } from './dockerd.js';

// Containers the e2e tests start: busybox with volumes, no network, a shell script.

const volumeArgs = (volumes: readonly string[]) => volumes.flatMap((volume) => ['-v', volume]);

/** Starts `script` in the background with `volumes` (NAME:/path); resolves with the container id. */
export async function runDetached(dockerd: Dockerd, volumes: readonly string[], script: string): Promise<string> {
  return (await dockerd.docker(['run', '-d', '--network', 'none', ...volumeArgs(volumes), TEST_IMAGE, 'sh', '-c', script])).stdout;
}

/** Runs `script` to its end with `volumes`; resolves with its output (fails the test on a non-zero exit). */
export async function runOnce(dockerd: Dockerd, volumes: readonly string[], script: string): Promise<string> {
  return (await dockerd.docker(['run', '--rm', '--network', 'none', ...volumeArgs(volumes), TEST_IMAGE, 'sh', '-c', script])).stdout;
}

/** docker rm -f, ignoring a container already gone. */
export async function removeContainer(dockerd: Dockerd, id: string): Promise<void> {
  await dockerd.docker(['rm', '-f', id], { reject: false });
}

/** What docker volume inspect says of a volume. */
export interface InspectedVolume {
  readonly Driver: string;
  readonly Mountpoint: string;
  readonly Status: Record<string, unknown>;
}

/** docker volume inspect `name`. */
export async function inspectVolume(dockerd: Dockerd, name: string): Promise<InspectedVolume> {
  return (JSON.parse((await dockerd.docker(['volume', 'inspect', name])).stdout) as InspectedVolume[])[0]!;
}
