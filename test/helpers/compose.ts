import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { TEST_IMAGE, type Dockerd } from './dockerd.js';

// A docker-compose project of one service, `app` (the test image, no
// network, a shell command), and the named volumes it mounts, each made by
// the plugin under test with its driver_opts.

export interface ComposeApp {
  /** The file's `version:` ("3.7"); without it the file is the Compose Specification's. */
  readonly version?: string;
  /** What `app` runs, with sh -c. */
  readonly command: string;
  /** What `app` mounts: NAME:/path. */
  readonly mounts: readonly string[];
  /** The volume driver (the plugin under test). */
  readonly driver: string;
  /** Each named volume and its driver_opts. */
  readonly volumes: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/** The docker-compose.yml of `app`. */
export function composeFile(app: ComposeApp): string {
  const options = (opts: Readonly<Record<string, string>>) =>
    `{${Object.entries(opts)
      .map(([key, value]) => `${key}: ${value}`)
      .join(', ')}}`;
  return [
    ...(app.version ? [`version: "${app.version}"`] : []),
    'services:',
    '  app:',
    `    image: ${TEST_IMAGE}`,
    '    network_mode: none',
    `    command: ${JSON.stringify(['sh', '-c', app.command])}`,
    `    volumes: ${JSON.stringify(app.mounts)}`,
    'volumes:',
    ...Object.entries(app.volumes).flatMap(([name, opts]) => [
      `  ${name}:`,
      `    driver: ${app.driver}`,
      `    driver_opts: ${options(opts)}`,
    ]),
    '',
  ].join('\n');
}

/**
 * Writes `app` to `dir`/docker-compose.yml and gives docker-compose for project `project` there, against `dockerd`;
 * it never rejects (the test reads the exit code), and gives up after `timeout` ms when one is given.
 */
export async function composeProject(dockerd: Dockerd, dir: string, project: string, app: ComposeApp, timeout?: number) {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'docker-compose.yml'), composeFile(app));
  return (args: string[]) =>
    execa('docker-compose', ['-p', project, ...args], {
      cwd: dir,
      env: { DOCKER_HOST: dockerd.host },
      reject: false,
      ...(timeout === undefined ? {} : { timeout }),
    });
}
