import { request, type IncomingMessage } from 'node:http';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SealReader, type StreamSeal } from '../api/export-format.js';
import { CliError, EXIT, parseReply, unreachable, type Reply } from './client.js';
import { startProgress } from './progress.js';

// export and import: a sealed tar through the plugin's socket, at the pace of
// the disk or pipe on this side, with a progress bar for a person.

function counting(add: (bytes: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      add(chunk.length);
      done(null, chunk);
    },
  });
}

async function readAll(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Streams the volume's export into `sink`, checking its seal on the way; resolves with the seal. */
export function exportVolume(socket: string, name: string, plaintext: boolean, sink: Writable, showProgress: boolean): Promise<StreamSeal> {
  const payload = JSON.stringify({ Name: name, Plaintext: plaintext });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        path: '/Custom.Export',
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
      },
      (res) => {
        if (!/x-tar/.test(res.headers['content-type'] ?? '')) {
          readAll(res)
            .then((body) => {
              parseReply(socket, 'Custom.Export', res.statusCode, body);
              throw new CliError(`the plugin at ${socket} answered Custom.Export without a stream`, EXIT.unreachable);
            })
            .catch(reject);
          return;
        }
        const estimate = Number(res.headers['x-custom-estimated-bytes']) || undefined;
        const progress = startProgress(`exporting ${name}`, estimate, showProgress);
        const checker = new SealReader(true);
        pipeline(res, counting(progress.add), checker, sink).then(
          () => {
            progress.stop();
            const problem = checker.verdict();
            const seal = checker.seal();
            if (problem || !seal) reject(new CliError(`the export of ${name} is incomplete: ${problem ?? 'no seal'}`, EXIT.refused));
            else resolve(seal);
          },
          (error: Error) => {
            progress.stop();
            reject(
              new CliError(
                `the export of ${name} broke off (${error.message}); the plugin cut it because it failed: see its log. Nothing whole was written`,
                EXIT.refused,
              ),
            );
          },
        );
      },
    );
    req.on('error', (error) => reject(unreachable(socket, error)));
    req.end(payload);
  });
}

/** Streams `source` into the volume's import; resolves with the plugin's answer. */
export function importVolume(
  socket: string,
  name: string,
  source: Readable,
  totalBytes: number | undefined,
  showProgress: boolean,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const progress = startProgress(`importing ${name}`, totalBytes, showProgress);
    let answered = false;
    const req = request(
      {
        socketPath: socket,
        path: `/Custom.Import?${new URLSearchParams({ Name: name }).toString()}`,
        method: 'POST',
        headers: { 'Content-Type': 'application/x-tar' },
      },
      (res) => {
        answered = true;
        readAll(res).then((body) => {
          progress.stop();
          // The answer may come before the whole stream went (a refusal): the rest is not sent.
          req.destroy();
          source.destroy();
          try {
            resolve(parseReply(socket, 'Custom.Import', res.statusCode, body));
          } catch (error) {
            reject(error as Error);
          }
        }, reject);
      },
    );
    req.on('error', (error) => {
      // The plugin may refuse and close before it read everything: its answer counts, not the broken pipe.
      if (answered) return;
      progress.stop();
      reject(unreachable(socket, error));
    });
    pipeline(source, counting(progress.add), req).catch((error: Error) => {
      if (answered) return;
      progress.stop();
      req.destroy();
      reject(new CliError(`could not read the stream to import into ${name}: ${error.message}`, EXIT.refused));
    });
  });
}

/**
 * A call whose answer is NDJSON progress lines ({"CopiedBytes","TotalBytes"})
 * and then the usual {"Err"} line: the bar follows the lines.
 */
export function callWithProgress(socket: string, method: string, body: Record<string, unknown>, label: string): Promise<Reply> {
  const payload = JSON.stringify({ ...body, Progress: true });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        path: `/${method}`,
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
      },
      (res) => {
        if (!/ndjson/.test(res.headers['content-type'] ?? '')) {
          readAll(res)
            .then((answer) => resolve(parseReply(socket, method, res.statusCode, answer)))
            .catch(reject);
          return;
        }
        let progress: ReturnType<typeof startProgress> | undefined;
        let seen = 0;
        let buffered = '';
        let last: Buffer | undefined;
        let settled = false;
        const fail = (error: CliError) => {
          if (settled) return;
          settled = true;
          progress?.stop();
          res.destroy();
          reject(error);
        };
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          const lines = buffered.split('\n');
          buffered = lines.pop() ?? '';
          for (const text of lines.filter(Boolean)) {
            let line: Record<string, unknown>;
            try {
              line = JSON.parse(text) as Record<string, unknown>;
            } catch {
              return fail(
                new CliError(
                  `the plugin at ${socket} answered ${method} with a line that is not JSON (is it this plugin?)`,
                  EXIT.unreachable,
                ),
              );
            }
            if (typeof line?.['CopiedBytes'] !== 'number') {
              last = Buffer.from(text);
              continue;
            }
            progress ??= startProgress(label, Number(line['TotalBytes']), true);
            progress.add(line['CopiedBytes'] - seen);
            seen = line['CopiedBytes'];
          }
        });
        // A connection cut halfway (the plugin restarted) ends without 'end': say so, never hang.
        res.on('close', () => {
          if (settled) return;
          if (!last) {
            fail(
              new CliError(
                `the connection to the plugin at ${socket} was cut during ${method}; it may or may not have finished: check with custom-volume inspect`,
                EXIT.refused,
              ),
            );
            return;
          }
          settled = true;
          progress?.stop();
          try {
            resolve(parseReply(socket, method, res.statusCode, last));
          } catch (error) {
            reject(error as Error);
          }
        });
        res.on('error', () => undefined); // 'close' follows and answers
      },
    );
    req.on('error', (error) => reject(unreachable(socket, error)));
    req.end(payload);
  });
}
