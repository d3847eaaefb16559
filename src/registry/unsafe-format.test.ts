import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { detectUnsafe, scanUnsafe, UNSAFE_HEAD_BYTES } from './unsafe-format.js';

const fixture = (path: string): Buffer => readFileSync(new URL(`../../test/fixtures/${path}`, import.meta.url));

// Printed by Python 3.11: pickle.dumps({'layers': [1, 2], 'name': 'm'}, protocol=2) and protocol=4.
const PICKLE_2 = Buffer.from('80027d71002858060000006c617965727371015d7102284b014b026558040000006e616d65710358010000006d7104752e', 'hex');
const PICKLE_4 = Buffer.from('80049521000000000000007d94288c066c6179657273945d94284b014b02658c046e616d65948c016d94752e', 'hex');
// Printed by NumPy 1.24: numpy.save of np.array([1.0, 2.0], dtype=np.float32).
const NPY_FLOAT32 = Buffer.from(
  '934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d' +
    '20'.repeat(60) + '0a0000803f00000040',
  'hex',
);

/** A format 1.0 .npy header as NumPy pads it: magic, version, length, dict, spaces, newline, to 64 bytes. */
function npyHeader(dict: string): Buffer {
  const unpadded = 10 + dict.length + 1;
  const text = dict + ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const length = Buffer.alloc(2);
  length.writeUInt16LE(text.length);
  return Buffer.concat([Buffer.from('\x93NUMPY\x01\x00', 'latin1'), length, Buffer.from(text, 'latin1')]);
}

/** One stored zip entry: local file header, name, data. */
function zipEntry(name: string, data: Buffer): Buffer {
  const header = Buffer.alloc(30);
  header.write('PK\x03\x04', 0, 'latin1');
  header.writeUInt32LE(data.length, 18);
  header.writeUInt32LE(data.length, 22);
  header.writeUInt16LE(name.length, 26);
  return Buffer.concat([header, Buffer.from(name), data]);
}

describe('detectUnsafe', () => {
  it('flags pickle streams by their protocol header, whatever the name', () => {
    assert.equal(detectUnsafe('model', PICKLE_2), 'pickle protocol 2 stream');
    assert.equal(detectUnsafe('pytorch_model.bin', PICKLE_4), 'pickle protocol 4 stream');
    assert.equal(detectUnsafe('weights.data', PICKLE_4.subarray(0, 3)), 'pickle protocol 4 stream');
  });

  it('flags pickle-based extensions without looking at the content', () => {
    const expected: [string, string][] = [
      ['model.pkl', 'Python pickle'],
      ['a/b/model.pickle', 'Python pickle'],
      ['model.joblib', 'joblib file (pickle-based)'],
      ['model.dill', 'dill file (pickle-based)'],
      ['model.pt', 'PyTorch file (pickle-based)'],
      ['checkpoints/MODEL.PTH', 'PyTorch file (pickle-based)'],
      ['last.ckpt', 'checkpoint file (pickle-based)'],
    ];
    for (const [path, reason] of expected) assert.equal(detectUnsafe(path, Buffer.alloc(0)), reason, path);
  });

  it('flags a real torch.save archive by the data.pkl entry it holds', () => {
    const archive = fixture('unsafe/tiny_state_dict.pt');
    assert.equal(detectUnsafe('weights.bin', archive), 'zip archive holding a pickle (tiny_state_dict/data.pkl), as torch.save writes');
    assert.equal(detectUnsafe('tiny_state_dict.pt', archive), 'PyTorch file (pickle-based)');
  });

  it('finds a pickle entry that is not the first in the archive', () => {
    const archive = Buffer.concat([zipEntry('readme.txt', Buffer.from('hello')), zipEntry('model/extra.PKL', PICKLE_2)]);
    assert.equal(detectUnsafe('bundle.zip', archive), 'zip archive holding a pickle (model/extra.PKL), as torch.save writes');
  });

  it('flags a .npy array of objects but not one of numbers', () => {
    assert.deepEqual(npyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"), NPY_FLOAT32.subarray(0, 128));
    assert.equal(detectUnsafe('x.npy', NPY_FLOAT32), null);
    const objects = Buffer.concat([npyHeader("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"), PICKLE_2]);
    assert.equal(detectUnsafe('x.npy', objects), 'NumPy array of Python objects (loading it needs allow_pickle)');
  });

  it('leaves ONNX, CSV, plain zips, raw weights and safetensors alone', () => {
    assert.equal(detectUnsafe('model.onnx', fixture('onnx/tabular_mlp.onnx')), null);
    assert.equal(detectUnsafe('data/breast_cancer.csv', fixture('datasets/breast_cancer.csv')), null);
    assert.equal(detectUnsafe('data.pkl/model.onnx', fixture('onnx/tree_ensemble.onnx')), null);
    assert.equal(detectUnsafe('bundle.zip', Buffer.concat([zipEntry('a.csv', Buffer.from('x\n1\n')), zipEntry('pkl', Buffer.alloc(3))])), null);
    assert.equal(detectUnsafe('weights.bin', Buffer.from(new Float32Array([1.5, -2, 3]).buffer)), null);
    // A safetensors file whose JSON header is 0x0280 bytes long starts with 80 02, like a pickle.
    const json = `{"w":{"dtype":"F32","data_offsets":[0,4],"shape":[1]}}`.padEnd(0x280, ' ');
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(json.length));
    assert.equal(detectUnsafe('model.safetensors', Buffer.concat([length, Buffer.from(json), Buffer.alloc(4)])), null);
    assert.equal(detectUnsafe('empty.bin', Buffer.alloc(0)), null);
  });

  it('only looks at the first UNSAFE_HEAD_BYTES bytes', () => {
    assert.equal(UNSAFE_HEAD_BYTES, 65536);
    const late = Buffer.concat([zipEntry('big.bin', Buffer.alloc(UNSAFE_HEAD_BYTES)), zipEntry('late.pkl', PICKLE_2)]);
    assert.equal(detectUnsafe('late.zip', late), null);
  });
});

describe('scanUnsafe', () => {
  it('lists the unsafe files in order and reads only those it cannot judge by name', async () => {
    const heads: Record<string, Buffer> = {
      'MLmodel': Buffer.from('flavors:\n  sklearn: {}\n'),
      'model.onnx': fixture('onnx/tabular_mlp.onnx'),
      'pytorch_model.bin': fixture('unsafe/tiny_state_dict.pt'),
      'state.bin': Buffer.concat([PICKLE_2, Buffer.alloc(UNSAFE_HEAD_BYTES)]),
    };
    const read: string[] = [];
    const files = ['MLmodel', 'model.pkl', 'model.onnx', 'pytorch_model.bin', 'state.bin'].map((path) => ({ path, sizeBytes: 1 }));
    const found = await scanUnsafe(files, async (path) => {
      read.push(path);
      return heads[path]!;
    });
    assert.deepEqual(found, [
      { path: 'model.pkl', reason: 'Python pickle' },
      { path: 'pytorch_model.bin', reason: 'zip archive holding a pickle (tiny_state_dict/data.pkl), as torch.save writes' },
      { path: 'state.bin', reason: 'pickle protocol 2 stream' },
    ]);
    assert.deepEqual(read, ['MLmodel', 'model.onnx', 'pytorch_model.bin', 'state.bin']);
  });
});
