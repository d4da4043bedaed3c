import type { IncomingMessage } from 'node:http';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CUSTOM } from '../api/custom.js';
import type { ReplyOf, RequestOf } from '../api/endpoint.js';
import { SealReader, type StreamSeal } from '../api/export-format.js';
import { jsonHeaders, openPost } from '../api/socket-client.js';
import { cloneProgress, ESTIMATE_HEADER, EXPORT_TYPE, importPath, PROGRESS_TYPE } from '../api/streams.js';
import { checkReply, CliError, EXIT, unreachable } from './client.js';
import { startProgress } from './progress.js';

// export and import: a sealed tar through the plugin's socket, at the pace of
// the disk or pipe on this side, with a progress bar for a person; and a
// clone's progress lines.

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
  const request: RequestOf<typeof CUSTOM.export> = { Name: name, Plaintext: plaintext };
  const payload = JSON.stringify(request);
  return new Promise((resolve, reject) => {
    const req = openPost(socket, CUSTOM.export.path, jsonHeaders(payload), (res) => {
      if (!(res.headers['content-type'] ?? '').includes(EXPORT_TYPE)) {
        readAll(res)
          .then((body) => {
            checkReply(socket, CUSTOM.export, res.statusCode, body);
            throw new CliError(`the plugin at ${socket} answered ${CUSTOM.export.method} without a stream`, EXIT.unreachable);
          })
          .catch(reject);
        return;
      }
      const estimate = Number(res.headers[ESTIMATE_HEADER.toLowerCase()]) || undefined;
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
    });
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
): Promise<ReplyOf<typeof CUSTOM.import>> {
  return new Promise((resolve, reject) => {
    const progress = startProgress(`importing ${name}`, totalBytes, showProgress);
    let answered = false;
    const req = openPost(socket, importPath(name), { 'Content-Type': EXPORT_TYPE }, (res) => {
      answered = true;
      readAll(res).then((body) => {
        progress.stop();
        // The answer may come before the whole stream went (a refusal): the rest is not sent.
        req.destroy();
        source.destroy();
        try {
          resolve(checkReply(socket, CUSTOM.import, res.statusCode, body));
        } catch (error) {
          reject(error as Error);
        }
      }, reject);
    });
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
 * A clone whose answer is NDJSON progress lines ({"CopiedBytes","TotalBytes"})
 * and then the usual {"Err"} line: the bar follows the lines.
 */
export function cloneWithProgress(
  socket: string,
  body: RequestOf<typeof CUSTOM.clone>,
  label: string,
): Promise<ReplyOf<typeof CUSTOM.clone>> {
  const { method } = CUSTOM.clone;
  const payload = JSON.stringify({ ...body, Progress: true });
  return new Promise((resolve, reject) => {
    const req = openPost(socket, CUSTOM.clone.path, jsonHeaders(payload), (res) => {
      if (!(res.headers['content-type'] ?? '').includes(PROGRESS_TYPE)) {
        readAll(res)
          .then((answer) => resolve(checkReply(socket, CUSTOM.clone, res.statusCode, answer)))
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
          let line: unknown;
          try {
            line = JSON.parse(text);
          } catch {
            return fail(
              new CliError(
                `the plugin at ${socket} answered ${method} with a line that is not JSON (is it this plugin?)`,
                EXIT.unreachable,
              ),
            );
          }
          const step = cloneProgress.safeParse(line);
          if (!step.success) {
            last = Buffer.from(text);
            continue;
          }
          progress ??= startProgress(label, step.data.TotalBytes, true);
          progress.add(step.data.CopiedBytes - seen);
          seen = step.data.CopiedBytes;
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
          resolve(checkReply(socket, CUSTOM.clone, res.statusCode, last));
        } catch (error) {
          reject(error as Error);
        }
      });
      res.on('error', () => undefined); // 'close' follows and answers
    });
    req.on('error', (error) => reject(unreachable(socket, error)));
    req.end(payload);
  });
}
