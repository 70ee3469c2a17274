export { checkKey, type ObjectStore, type StoredObject } from './object-store.js';
export { ObjectStoreError } from './object-store-error.js';
export { createFolderStore } from './folder-store.js';
export { createS3Store, parseS3Url, type S3StoreOptions } from './s3-store.js';
