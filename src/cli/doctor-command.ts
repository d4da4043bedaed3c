import type { Command } from 'commander';
import { CUSTOM } from '../api/custom.js';
import type { Finding } from '../api/reports.js';
import { diskReport } from './disk-report.js';
import { EXIT } from './client.js';
import type { CliContext } from './context.js';
import { bytes } from './context.js';
import { table } from './format.js';

// doctor: the plugin's view of the host (/Custom.Doctor) and this host's
// disks. The disk report uses node-disk-info on the CLI's side only, in a
// child process with a deadline (disk-report.ts): it runs a synchronous `df`
// over every mount, which a hung NFS or FUSE mount blocks for ever; in the
// daemon that would stall every volume request.

const FULL_PERCENT = 90;

export function addDoctorCommand(program: Command, cli: CliContext): void {
  program
    .command('doctor')
    .description(
      'check this host and the plugin: which volume types it can serve (and why not), leaked loop devices, mappings and mounts, state against disk, stale leases, frozen filesystems, overcommit, full disks; exits 1 when something is wrong',
    )
    .action(async () => {
      const diagnosis = (await cli.ask(CUSTOM.doctor, {}, 300_000)).Doctor;
      const host = await diskReport();
      const findings: Finding[] = [...diagnosis.findings];
      if (typeof host !== 'string') {
        for (const disk of host) {
          if (parseInt(disk.capacity, 10) >= FULL_PERCENT && !/^(tmpfs|devtmpfs|overlay|squashfs)$/.test(disk.filesystem)) {
            findings.push({
              severity: 'warning',
              what: `${disk.mounted} (${disk.filesystem}) is ${disk.capacity} full`,
              fix: 'free space there before volumes on it fill up',
            });
          }
        }
      }
      const problems = findings.filter((finding) => finding.severity === 'problem').length;
      if (problems > 0) process.exitCode = EXIT.refused;
      if (cli.json()) return cli.print(JSON.stringify({ ...diagnosis, findings, disks: host }, null, 2));
      cli.print(table(['TYPE', 'ON THIS HOST'], Object.entries(diagnosis.types)));
      cli.print('');
      cli.print(
        `${diagnosis.volumes} volume${diagnosis.volumes === 1 ? '' : 's'}; ${diagnosis.dataDir}: ${bytes(diagnosis.freeBytes)} free, sparse images may still claim ${bytes(diagnosis.unclaimedBytes)}`,
      );
      if (typeof host === 'string') cli.print(`(no disk report: ${host})`);
      cli.print('');
      if (findings.length === 0) return cli.print('no problems found');
      cli.print(
        table(
          ['SEVERITY', 'VOLUME', 'FINDING', 'FIX'],
          findings.map((f) => [f.severity, f.volume ?? '', f.what, f.fix]),
        ),
      );
    });
}
