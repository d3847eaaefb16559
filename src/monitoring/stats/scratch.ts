// Reusable work buffers. A fresh large typed array costs a page fault per 4 KiB on first touch,
// which on some virtual machines takes longer than the pass that fills it; the statistics
// therefore keep their temporaries in buffers that survive from one column to the next. Each
// buffer is named by its use, so two live temporaries never share memory, and weakly held, so an
// idle process gives the memory back.
//
// A buffer is valid until the next request under the same name: callers use it within one
// synchronous computation and never hand it out.

const buffers = new Map<string, WeakRef<ArrayBuffer>>();

function bufferOf(name: string, bytes: number): ArrayBuffer {
  let buffer = buffers.get(name)?.deref();
  if (!buffer || buffer.byteLength < bytes) {
    buffer = new ArrayBuffer(bytes);
    buffers.set(name, new WeakRef(buffer));
  }
  return buffer;
}

/** A Float64Array of `length` elements (contents unspecified) in the buffer named `name`. */
export function scratchFloat64(name: string, length: number): Float64Array {
  return new Float64Array(bufferOf(name, length * 8), 0, length);
}

/** A Uint32Array of `length` elements (contents unspecified) in the buffer named `name`. */
export function scratchUint32(name: string, length: number): Uint32Array {
  return new Uint32Array(bufferOf(name, length * 4), 0, length);
}
