import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { AppError } from '../errors.js';

/** Counts and hashes the bytes flowing through; fails with PAYLOAD_TOO_LARGE past `maxBytes`. */
export class Meter extends Transform {
  size = 0;
  private readonly hash = createHash('sha256');
  private readonly maxBytes: number;

  constructor(maxBytes = Number.POSITIVE_INFINITY) {
    super();
    this.maxBytes = maxBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      callback(
        new AppError('PAYLOAD_TOO_LARGE', `The file is larger than the limit of ${this.maxBytes} bytes.`),
      );
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}
