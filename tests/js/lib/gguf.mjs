// Test helper: copies a GGUF file with one string key added or replaced
// (e.g. tokenizer.chat_template), keeping the tensor data byte for byte.
// Only for files the tests control (v2/v3, little-endian); it validates what
// it walks and throws on anything unexpected.
import { readFileSync, writeFileSync } from 'node:fs';

const SIZES = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

function skipValue(buf, off, type) {
  if (type === 8) return off + 8 + Number(buf.readBigUInt64LE(off));
  if (type === 9) {
    const et = buf.readUInt32LE(off);
    const n = Number(buf.readBigUInt64LE(off + 4));
    off += 12;
    if (SIZES[et] !== undefined) return off + n * SIZES[et];
    for (let i = 0; i < n; i++) off = skipValue(buf, off, et);
    return off;
  }
  if (SIZES[type] === undefined) throw new Error(`gguf: bad value type ${type} at ${off}`);
  return off + SIZES[type];
}

function str(s) {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(b.length));
  return Buffer.concat([len, b]);
}

export function ggufWithString(src, dst, key, value) {
  const buf = readFileSync(src);
  if (buf.toString('latin1', 0, 4) !== 'GGUF') throw new Error('gguf: bad magic');
  const nTensors = Number(buf.readBigUInt64LE(8));
  const nKv = Number(buf.readBigUInt64LE(16));
  let off = 24;
  const kvs = [];
  let alignment = 32;
  for (let i = 0; i < nKv; i++) {
    const start = off;
    const klen = Number(buf.readBigUInt64LE(off));
    const k = buf.toString('utf8', off + 8, off + 8 + klen);
    off += 8 + klen;
    const type = buf.readUInt32LE(off);
    const vstart = off + 4;
    off = skipValue(buf, vstart, type);
    if (k === 'general.alignment' && type === 4) alignment = buf.readUInt32LE(vstart);
    if (k !== key) kvs.push(buf.subarray(start, off));
  }
  const infoStart = off;
  for (let i = 0; i < nTensors; i++) {
    const nlen = Number(buf.readBigUInt64LE(off));
    off += 8 + nlen;
    const nd = buf.readUInt32LE(off);
    off += 4 + nd * 8 + 4 + 8;
  }
  const infos = buf.subarray(infoStart, off);
  const dataStart = Math.ceil(off / alignment) * alignment;
  const t = Buffer.alloc(4);
  t.writeUInt32LE(8);
  kvs.push(Buffer.concat([str(key), t, str(value)]));
  const head = Buffer.alloc(24);
  buf.copy(head, 0, 0, 8);
  head.writeBigUInt64LE(BigInt(nTensors), 8);
  head.writeBigUInt64LE(BigInt(kvs.length), 16);
  const meta = Buffer.concat([head, ...kvs, infos]);
  const pad = Buffer.alloc((alignment - (meta.length % alignment)) % alignment);
  writeFileSync(dst, Buffer.concat([meta, pad, buf.subarray(dataStart)]));
  return dst;
}

// The string value of key in a GGUF file, or null.
export function ggufGetString(path, key) {
  const buf = readFileSync(path);
  if (buf.toString('latin1', 0, 4) !== 'GGUF') throw new Error('gguf: bad magic');
  const nKv = Number(buf.readBigUInt64LE(16));
  let off = 24;
  for (let i = 0; i < nKv; i++) {
    const klen = Number(buf.readBigUInt64LE(off));
    const k = buf.toString('utf8', off + 8, off + 8 + klen);
    off += 8 + klen;
    const type = buf.readUInt32LE(off);
    if (k === key && type === 8) {
      const n = Number(buf.readBigUInt64LE(off + 4));
      return buf.toString('utf8', off + 12, off + 12 + n);
    }
    off = skipValue(buf, off + 4, type);
  }
  return null;
}
