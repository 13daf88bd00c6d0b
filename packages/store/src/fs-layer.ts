import * as fs from 'node:fs';

/**
 * The file operations the writer performs, behind one seam so that tests can inject the
 * faults a real disk produces rarely (ENOSPC, EIO from fsync, EROFS) without root tricks.
 * Everything else (readers, verify) uses `node:fs` directly: they never write.
 */
export interface FsLayer {
  openSync(path: string, flags: string | number, mode?: number): number;
  closeSync(fd: number): void;
  writeSync(
    fd: number,
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): number;
  fdatasyncSync(fd: number): void;
  fsyncSync(fd: number): void;
  ftruncateSync(fd: number, length: number): void;
  fdatasync(fd: number): Promise<void>;
  mkdirSync(path: string, options: { recursive: true; mode?: number }): void;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
  chmodSync(path: string, mode: number): void;
  /** Mode change through an open descriptor: never follows a link planted at the path. */
  fchmodSync(fd: number, mode: number): void;
  linkSync(existing: string, newPath: string): void;
}

export const nodeFsLayer: FsLayer = {
  openSync: (path, flags, mode) => fs.openSync(path, flags, mode),
  closeSync: (fd) => fs.closeSync(fd),
  writeSync: (fd, buffer, offset, length, position) =>
    fs.writeSync(fd, buffer, offset, length, position),
  fdatasyncSync: (fd) => fs.fdatasyncSync(fd),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  ftruncateSync: (fd, length) => fs.ftruncateSync(fd, length),
  fdatasync: (fd) =>
    new Promise((resolve, reject) => {
      fs.fdatasync(fd, (error) => (error ? reject(error) : resolve()));
    }),
  mkdirSync: (path, options) => {
    fs.mkdirSync(path, options);
  },
  renameSync: (from, to) => fs.renameSync(from, to),
  unlinkSync: (path) => fs.unlinkSync(path),
  chmodSync: (path, mode) => fs.chmodSync(path, mode),
  fchmodSync: (fd, mode) => fs.fchmodSync(fd, mode),
  linkSync: (existing, newPath) => fs.linkSync(existing, newPath),
};

/** Write all of `buffer` at `position`, looping over short writes. */
export function writeFullySync(
  layer: FsLayer,
  fd: number,
  buffer: Uint8Array,
  position: number,
): void {
  let done = 0;
  while (done < buffer.length) {
    const n = layer.writeSync(fd, buffer, done, buffer.length - done, position + done);
    if (n <= 0) throw new Error('write made no progress');
    done += n;
  }
}

/** fsync a directory so that a new file or a rename in it survives power loss. */
export function fsyncDirSync(layer: FsLayer, dir: string): void {
  const fd = layer.openSync(dir, 'r');
  try {
    layer.fsyncSync(fd);
  } finally {
    layer.closeSync(fd);
  }
}

const OPEN_FLAGS: Record<string, number> = {
  r: fs.constants.O_RDONLY,
  'r+': fs.constants.O_RDWR,
  w: fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC,
  wx: fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_EXCL,
  'a+': fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_APPEND,
  ax: fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND | fs.constants.O_EXCL,
};

/**
 * `flags` with O_NOFOLLOW, for every file the writer opens inside the store: a symlink planted
 * there by whoever can write the store fails with ELOOP instead of being written through.
 */
export function noFollow(flags: 'r' | 'r+' | 'w' | 'wx' | 'a+' | 'ax'): number {
  return (OPEN_FLAGS[flags] as number) | fs.constants.O_NOFOLLOW;
}
