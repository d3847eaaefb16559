export type { BlobEntry, BlobInfo, BlobStore, PutOptions, ReadOptions } from './blob.store.js';
export { LocalBlobStore } from './local.js';
export { S3BlobStore, parseS3Uri, s3ClientConfig, type S3Options } from './s3.js';
export { openBlobStore } from './registry.js';
