import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

// Sealed key file: "CVK1" | 12-byte IV | 16-byte GCM tag | ciphertext.
// The volume id is the additional authenticated data, so a sealed key moved
// to another volume's file fails to open instead of unlocking the wrong disk.
const MAGIC = Buffer.from('CVK1');
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function isSealed(blob: Uint8Array): boolean {
  return blob.length > MAGIC.length + IV_BYTES + TAG_BYTES && Buffer.from(blob.subarray(0, 4)).equals(MAGIC);
}

export function sealKey(key: Uint8Array, kek: Uint8Array, volumeId: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  cipher.setAAD(Buffer.from(volumeId, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(key), cipher.final()]);
  return Buffer.concat([MAGIC, iv, cipher.getAuthTag(), ciphertext]);
}

export function unsealKey(blob: Uint8Array, kek: Uint8Array, volumeId: string): Buffer {
  const data = Buffer.from(blob);
  const iv = data.subarray(4, 4 + IV_BYTES);
  const tag = data.subarray(4 + IV_BYTES, 4 + IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', kek, iv);
  decipher.setAAD(Buffer.from(volumeId, 'utf8'));
  decipher.setAuthTag(tag);
  // The plaintext comes in two parts; only their concatenation leaves here, the parts are zeroed.
  const head = decipher.update(data.subarray(4 + IV_BYTES + TAG_BYTES));
  try {
    const tail = decipher.final();
    const key = Buffer.concat([head, tail]);
    tail.fill(0);
    return key;
  } finally {
    head.fill(0);
  }
}
