// A FUSE filesystem that never answers: node hung-fuse-server.js <mountpoint>
//
// It speaks the kernel protocol straight over /dev/fuse (no libfuse): it
// answers FUSE_INIT, so the mount is live, then reads every later request and
// never replies. A request userspace has read can no longer be taken back, so
// its caller sleeps in the kernel, in state D, SIGKILL or not, until the
// connection is aborted, as on a dead GlusterFS or sshfs mount.
//
// Prints `ready <connection id>` (the mount's minor device number, the name of
// its /sys/fs/fuse/connections/ directory) once the mount is live. On
// SIGTERM, SIGINT or the end of a piped stdin (its parent is gone) it aborts
// the connection (every waiting caller gets ECONNABORTED and returns, later
// ones ENOTCONN), unmounts lazily and exits 0. HUNG_FUSE_TRACE=1 logs each
// request to stderr.
//
// Never stat() the mountpoint here: that would be a request to ourselves.
import { closeSync, fstatSync, openSync, read, readFileSync, realpathSync, writeFileSync, writeSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { constants } from 'node:os';
import { execa } from 'execa';

const FUSE_INIT = 26;
const FUSE_INTERRUPT = 36;
const { ENOSYS, EIO } = constants.errno;
/** Names of the opcodes a trace is likely to show. */
const OPCODES: Record<number, string> = {
  1: 'LOOKUP',
  2: 'FORGET',
  3: 'GETATTR',
  14: 'OPEN',
  17: 'STATFS',
  22: 'GETXATTR',
  26: 'INIT',
  27: 'OPENDIR',
  28: 'READDIR',
  34: 'ACCESS',
  36: 'INTERRUPT',
  38: 'DESTROY',
  42: 'BATCH_FORGET',
  44: 'READDIRPLUS',
  52: 'STATX',
};

/** struct fuse_in_header: len u32, opcode u32, unique u64, nodeid u64, uid u32, gid u32, pid u32, total_extlen u16, padding u16. */
const IN_HEADER = 40;
/** struct fuse_out_header: len u32, error i32, unique u64. */
const OUT_HEADER = 16;
/** struct fuse_init_out (7.31+ layout, with flags2 and unused[7]). */
const INIT_OUT = 64;
/** The newest protocol minor whose fuse_init_out we fill in; the kernel takes the lesser of its own and ours. */
const OUR_MINOR = 31;
const MAX_WRITE = 131_072;
/** The kernel refuses a read shorter than a whole request (max_write plus headers); 1 MiB leaves room to spare. */
const READ_BUFFER = (1 << 20) + 4096;

const target = process.argv[2];
if (target === undefined) {
  process.stderr.write('usage: hung-fuse-server.js <mountpoint>\n');
  process.exit(2);
}
// mount(8) canonicalizes the target, and mountinfo shows it so; resolved now, while it is still a plain directory.
const mountpoint = realpathSync(target);
const trace = process.env['HUNG_FUSE_TRACE'] === '1';

function initReply(request: Buffer): Buffer {
  const unique = request.readBigUInt64LE(8);
  // struct fuse_init_in follows the header: major u32, minor u32, max_readahead u32, flags u32, …
  const kernelMajor = request.readUInt32LE(IN_HEADER);
  const kernelMinor = request.readUInt32LE(IN_HEADER + 4);
  const maxReadahead = request.readUInt32LE(IN_HEADER + 8);
  if (kernelMajor !== 7) throw new Error(`kernel speaks FUSE ${kernelMajor}.${kernelMinor}; only 7.x is known here`);
  const reply = Buffer.alloc(OUT_HEADER + INIT_OUT);
  reply.writeUInt32LE(reply.length, 0);
  reply.writeInt32LE(0, 4);
  reply.writeBigUInt64LE(unique, 8);
  const out = OUT_HEADER;
  reply.writeUInt32LE(7, out); // major
  reply.writeUInt32LE(Math.min(kernelMinor, OUR_MINOR), out + 4); // minor
  reply.writeUInt32LE(maxReadahead, out + 8);
  reply.writeUInt32LE(0, out + 12); // flags: no capability asked for
  reply.writeUInt16LE(16, out + 16); // max_background
  reply.writeUInt16LE(12, out + 18); // congestion_threshold
  reply.writeUInt32LE(MAX_WRITE, out + 20);
  reply.writeUInt32LE(1, out + 24); // time_gran
  // max_pages, map_alignment, flags2 and unused[7] stay 0.
  process.stderr.write(`hung-fuse: kernel FUSE 7.${kernelMinor}, negotiated 7.${Math.min(kernelMinor, OUR_MINOR)}\n`);
  return reply;
}

/** Undoes mountinfo's octal escapes (\040 for a space, …). */
const unescape = (field: string) => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));

/** The minor device number of our mount, read from mountinfo (a stat would ask ourselves). */
function connectionId(): string {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  // The last match is the topmost mount there, ours.
  for (const line of lines.reverse()) {
    const [mountFields = '', fsFields = ''] = line.split(' - ');
    const fields = mountFields.split(' ');
    const [fstype, source] = fsFields.split(' ');
    if (fields[4] !== undefined && unescape(fields[4]) === mountpoint && fstype === 'fuse' && source === 'hungfuse') {
      const minor = fields[2]?.split(':')[1];
      if (minor !== undefined) return minor;
    }
  }
  throw new Error(`no hungfuse mount at ${mountpoint} in /proc/self/mountinfo`);
}

const device = openSync('/dev/fuse', 'r+');
/** Settles once mount(8) is done; true when it mounted. */
let mounted: Promise<boolean> = Promise.resolve(false);
let connection: string | undefined;
let releasing: Promise<void> | undefined;

/** Aborts the connection (waiting callers get ECONNABORTED), unmounts lazily and exits: 0, or 1 after `failure`. */
function release(failure?: string): Promise<void> {
  if (failure !== undefined) process.stderr.write(`hung-fuse: ${failure}\n`);
  releasing ??= (async () => {
    let code = failure === undefined ? 0 : 1;
    if (connection !== undefined) {
      try {
        writeFileSync(`/sys/fs/fuse/connections/${connection}/abort`, '1');
      } catch {
        // fusectl is not mounted on /sys/fs/fuse/connections: umount -f below aborts instead.
      }
    }
    // A release during mount(8) waits for it, or the mount would outlive us.
    if (await mounted.catch(() => false)) {
      // -f aborts the connection too (the kernel's fuse_umount_begin); -c: no
      // canonicalization, and with -f or -l no statfs, so umount never asks the mount it takes away.
      const umount = await execa('umount', ['-f', '-l', '-c', mountpoint], { reject: false, timeout: 10_000 });
      if (umount.exitCode !== 0) {
        process.stderr.write(`hung-fuse: umount ${mountpoint}: ${umount.stderr}\n`);
        code = 1;
      }
    }
    process.exit(code);
  })();
  return releasing;
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void release());
// A parent that pipes our stdin and dies (or closes it) leaves no mount
// hanging. Node's spawn pipes are socket pairs, a shell's are FIFOs.
const stdin = fstatSync(0);
if (stdin.isFIFO() || stdin.isSocket()) {
  process.stdin.resume();
  process.stdin.once('end', () => void release());
}

/** Reads one request; undefined once the connection is gone (aborted or unmounted). */
function readRequest(buffer: Buffer): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    // A blocking read in libuv's thread pool: it holds one of its threads, which this process can spare.
    read(device, buffer, 0, buffer.length, null, (error, bytes) => {
      if (!error) resolve(buffer.subarray(0, bytes));
      // ENOENT: the request was interrupted before we got it; EINTR/EAGAIN: try again.
      else if (error.code === 'ENOENT' || error.code === 'EINTR' || error.code === 'EAGAIN') resolve(readRequest(buffer));
      else if (error.code === 'ENODEV' || error.code === 'ECONNABORTED') resolve(undefined);
      else reject(error);
    });
  });
}

/** mount(8) with our end of /dev/fuse as its fd 3 (execa's types allow only the numbers 3 to 9 there, so node's spawn). */
async function mount(): Promise<void> {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const options = `fd=3,rootmode=40000,user_id=${uid},group_id=${gid},allow_other`;
  // -i: no /sbin/mount.fuse helper, the kernel's fuse mount as it is.
  const child = spawn('mount', ['-i', '-t', 'fuse', '-o', options, 'hungfuse', mountpoint], {
    stdio: ['ignore', 'ignore', 'pipe', device],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  if (code !== 0) throw new Error(`mount failed (${code ?? signal}): ${stderr.trim()}`);
}

/** struct fuse_in_header's fields a trace shows and the loop needs. */
function header(request: Buffer) {
  return {
    opcode: request.readUInt32LE(4),
    unique: request.readBigUInt64LE(8),
    nodeid: request.readBigUInt64LE(16),
    pid: request.readUInt32LE(32),
  };
}

/** Reads the next request, traced; undefined once the connection is gone. */
async function nextRequest(buffer: Buffer): Promise<Buffer | undefined> {
  const request = await readRequest(buffer);
  if (request !== undefined && trace) {
    const { opcode, unique, nodeid, pid } = header(request);
    process.stderr.write(`hung-fuse: ${OPCODES[opcode] ?? String(opcode)} unique=${unique} nodeid=${nodeid} pid=${pid}\n`);
  }
  return request;
}

/** A reply that is only a header: an error for request `unique`. */
function errorReply(unique: bigint, errno: number): void {
  const reply = Buffer.alloc(OUT_HEADER);
  reply.writeUInt32LE(OUT_HEADER, 0);
  reply.writeInt32LE(-errno, 4);
  reply.writeBigUInt64LE(unique, 8);
  writeSync(device, reply);
}

/**
 * Makes every later caller sleep uninterruptibly (state D) from its first
 * moment, not only once signalled. The kernel waits for an answer
 * interruptibly (state S) while the server may still act on FUSE_INTERRUPT;
 * a server that once answers an INTERRUPT with ENOSYS says it never will, and
 * from then on callers wait killably (D), and unkillably once their request
 * has been read, as on a GlusterFS client without interrupt support. So: a
 * probe stats the mount, is SIGKILLed once its request is read, we refuse the
 * INTERRUPT that follows with ENOSYS, and answer the probe's request with EIO
 * so that it goes. The only answers besides INIT's.
 */
async function refuseInterrupts(buffer: Buffer): Promise<void> {
  const probe = spawn('stat', ['--', mountpoint], { stdio: 'ignore' });
  const gone = once(probe, 'exit');
  let probed: bigint | undefined;
  for (;;) {
    const request = await nextRequest(buffer);
    if (request === undefined) throw new Error('the connection ended while refusing interrupts');
    const { opcode, unique, pid } = header(request);
    if (probed === undefined && pid === probe.pid) {
      probed = unique;
      probe.kill('SIGKILL');
    } else if (opcode === FUSE_INTERRUPT && probed !== undefined && request.readBigUInt64LE(IN_HEADER) === probed) {
      // struct fuse_interrupt_in: the unique of the request interrupted. The reply carries the INTERRUPT's own unique.
      errorReply(unique, ENOSYS);
      errorReply(probed, EIO);
      break;
    }
    // Anyone else's request (another process found the mount already) waits like all later ones.
  }
  await gone;
}

async function serve(): Promise<void> {
  mounted = mount().then(() => true);
  await mounted;
  const buffer = Buffer.alloc(READ_BUFFER);
  // The kernel's first request is always INIT.
  const init = await nextRequest(buffer);
  if (init === undefined || header(init).opcode !== FUSE_INIT) throw new Error('the kernel sent no FUSE_INIT');
  writeSync(device, initReply(init));
  connection = connectionId();
  await refuseInterrupts(buffer);
  process.stdout.write(`ready ${connection}\n`);
  // Every later request, FUSE_INTERRUPT included, is read and left unanswered.
  while ((await nextRequest(buffer)) !== undefined);
  // The connection ended under us (aborted, or unmounted by someone else): clean up what is left.
  closeSync(device);
  await release();
}

void serve().catch((error: unknown) => release(error instanceof Error ? error.message : String(error)));
