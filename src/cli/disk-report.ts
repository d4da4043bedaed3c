#!/usr/bin/env node
import { execa } from 'execa';
import { getDiskInfo } from 'node-disk-info';

// This host's disks for `custom-volume doctor`, from node-disk-info. It runs
// a synchronous `df` over every mount, with no timeout: one hung NFS or FUSE
// mount blocks it for ever (the state `df` then sleeps in is unkillable). So
// doctor runs it in a child process of its own, this file, and gives up after
// DISK_REPORT_MS: the rest of its report is not held hostage by one mount.

export interface Disk {
  readonly filesystem: string;
  readonly mounted: string;
  readonly capacity: string;
  readonly availableBytes: number;
}

const DISK_REPORT_MS = 10_000;

/** The disks, or why there is no report. */
export async function diskReport(): Promise<Disk[] | string> {
  // stderr is not a pipe: a stuck `df` inherits it and would hold it open after its parent is killed.
  const child = await execa(process.execPath, [new URL(import.meta.url).pathname], {
    reject: false,
    timeout: DISK_REPORT_MS,
    forceKillAfterDelay: 1000,
    stdin: 'ignore',
    stderr: 'ignore',
  });
  if (child.timedOut) return `df did not answer within ${DISK_REPORT_MS / 1000} s (a hung network or FUSE mount?)`;
  const answer = JSON.parse(String(child.stdout || '{"error":"the disk report failed"}')) as Disk[] | { error: string };
  return Array.isArray(answer) ? answer : answer.error;
}

async function printDisks(): Promise<void> {
  const drives = await getDiskInfo();
  const disks: Disk[] = drives.map((drive) => ({
    filesystem: drive.filesystem,
    mounted: drive.mounted,
    capacity: drive.capacity,
    availableBytes: drive.available * 1024,
  }));
  process.stdout.write(JSON.stringify(disks));
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  printDisks().catch((error: unknown) => {
    process.stdout.write(JSON.stringify({ error: error instanceof Error ? error.message : String(error) }));
    process.exitCode = 1;
  });
}
