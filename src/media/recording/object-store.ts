/**
 * Where finished recordings go. A key is a relative path with `/` separators (`2026-11-24/<call>/a-1.wav`);
 * the file at `localPath` is complete when `putFile` is called, and the store may move or delete it. The
 * platform passes a folder or S3 store of `src/store/objects` (the media plane imports no store code).
 */
export interface ObjectStore {
  putFile(key: string, localPath: string): Promise<void>;
}
