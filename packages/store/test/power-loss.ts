/**
 * Power-loss simulation for RELIABILITY row 16, in the spirit of ALICE / CrashMonkey: the writer
 * runs for real on a live directory through an fs layer that also logs every mutating call.
 * `crashImage(k)` then builds, in another directory, a disk as a power cut after the first `k`
 * logged calls could have left it:
 *
 * - file data written before a completed fsync/fdatasync of that file is there;
 * - data written since is adversarial: all of it, none of it, or an arbitrary subset of its
 *   4 KiB pages (a later page may survive while an earlier one is lost; a gap reads as zeros);
 * - a name created, renamed or removed in a directory is there once that directory was
 *   fsynced afterwards; later name changes may or may not have reached the disk (each one kept
 *   or lost on its own), and a lost `mkdir` loses everything under it.
 *
 * Files that existed before the layer was installed count as durable as they were then.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type FsLayer, nodeFsLayer } from '../src/index.js';

const PAGE = 4096;

type Op =
  | { t: 'create'; path: string; ino: number }
  | { t: 'mkdir'; path: string }
  | { t: 'rename'; from: string; to: string }
  | { t: 'unlink'; path: string }
  | { t: 'link'; existing: string; to: string }
  | { t: 'write'; ino: number; pos: number; data: Buffer }
  | { t: 'truncate'; ino: number; len: number }
  /** Data of `ino` logged before `from` is durable (a completed fsync/fdatasync). */
  | { t: 'sync'; ino: number; from: number }
  /** Name changes in `dir` logged before `from` are durable (fsync of the directory). */
  | { t: 'dirsync'; dir: string; from: number };

export type VolatileMode = 'none' | 'all' | 'pages';

export interface CrashChoice {
  /** What happens to file data written since the file's last completed sync. */
  data: VolatileMode;
  /** Name changes not yet made durable: each kept with this probability. */
  namesKept: number;
  rand: () => number;
}

export class PowerLossFs {
  readonly log: Op[] = [];
  readonly layer: FsLayer;
  readonly #roots: string[];
  /** Namespace at install time (durable) and the content of those files. */
  readonly #initialNames = new Map<string, number>();
  readonly #initialDirs = new Set<string>();
  readonly #initialData = new Map<number, Buffer>();
  /** Live view: path → inode, fd → inode or directory path. */
  readonly #names = new Map<string, number>();
  readonly #fds = new Map<number, { ino: number } | { dir: string }>();
  #nextIno = 1;

  /** Snapshot `roots` (the store and trust directories) as the durable starting point. */
  constructor(roots: string[]) {
    this.#roots = roots.map((r) => path.resolve(r));
    for (const root of this.#roots) this.#snapshot(root);
    this.layer = this.#makeLayer();
  }

  #snapshot(p: string): void {
    if (!fs.existsSync(p)) return;
    const st = fs.lstatSync(p);
    if (st.isDirectory()) {
      this.#initialDirs.add(p);
      for (const e of fs.readdirSync(p)) this.#snapshot(path.join(p, e));
      return;
    }
    if (!st.isFile() || ignored(p)) return;
    const ino = this.#nextIno++;
    this.#initialNames.set(p, ino);
    this.#names.set(p, ino);
    this.#initialData.set(ino, fs.readFileSync(p));
  }

  #makeLayer(): FsLayer {
    const self = this;
    const log = this.log;
    return {
      ...nodeFsLayer,
      openSync(p, flags, mode) {
        const abs = path.resolve(p);
        const existed = fs.existsSync(abs);
        const isDir = existed && fs.statSync(abs).isDirectory();
        const fd = nodeFsLayer.openSync(p, flags, mode);
        if (isDir) {
          self.#fds.set(fd, { dir: abs });
          return fd;
        }
        const f = String(flags);
        let ino = self.#names.get(abs);
        if (!existed || ino === undefined) {
          ino = self.#nextIno++;
          self.#names.set(abs, ino);
          log.push({ t: 'create', path: abs, ino });
        } else if (f.startsWith('w')) {
          log.push({ t: 'truncate', ino, len: 0 });
        }
        self.#fds.set(fd, { ino });
        return fd;
      },
      closeSync(fd) {
        self.#fds.delete(fd);
        nodeFsLayer.closeSync(fd);
      },
      writeSync(fd, buffer, offset, length, position) {
        const n = nodeFsLayer.writeSync(fd, buffer, offset, length, position);
        const target = self.#fds.get(fd);
        if (target && 'ino' in target) {
          log.push({
            t: 'write',
            ino: target.ino,
            pos: position,
            data: Buffer.from(buffer.subarray(offset, offset + n)),
          });
        }
        return n;
      },
      ftruncateSync(fd, len) {
        nodeFsLayer.ftruncateSync(fd, len);
        const target = self.#fds.get(fd);
        if (target && 'ino' in target) log.push({ t: 'truncate', ino: target.ino, len });
      },
      fdatasyncSync(fd) {
        const from = log.length;
        nodeFsLayer.fdatasyncSync(fd);
        self.#synced(fd, from);
      },
      fsyncSync(fd) {
        const from = log.length;
        nodeFsLayer.fsyncSync(fd);
        self.#synced(fd, from);
      },
      async fdatasync(fd) {
        // Only what was written before the call is guaranteed once it completes.
        const from = log.length;
        await nodeFsLayer.fdatasync(fd);
        self.#synced(fd, from);
      },
      mkdirSync(p, options) {
        const abs = path.resolve(p);
        const missing: string[] = [];
        for (let d = abs; !fs.existsSync(d); d = path.dirname(d)) missing.unshift(d);
        nodeFsLayer.mkdirSync(p, options);
        for (const d of missing) log.push({ t: 'mkdir', path: d });
      },
      renameSync(from, to) {
        nodeFsLayer.renameSync(from, to);
        const a = path.resolve(from);
        const b = path.resolve(to);
        const ino = self.#names.get(a);
        self.#names.delete(a);
        if (ino !== undefined) self.#names.set(b, ino);
        log.push({ t: 'rename', from: a, to: b });
      },
      unlinkSync(p) {
        nodeFsLayer.unlinkSync(p);
        const abs = path.resolve(p);
        self.#names.delete(abs);
        log.push({ t: 'unlink', path: abs });
      },
      linkSync(existing, to) {
        nodeFsLayer.linkSync(existing, to);
        const a = path.resolve(existing);
        const b = path.resolve(to);
        const ino = self.#names.get(a);
        if (ino !== undefined) self.#names.set(b, ino);
        log.push({ t: 'link', existing: a, to: b });
      },
    };
  }

  #synced(fd: number, from: number): void {
    const target = this.#fds.get(fd);
    if (!target) return;
    if ('ino' in target) this.log.push({ t: 'sync', ino: target.ino, from });
    else this.log.push({ t: 'dirsync', dir: target.dir, from });
  }

  /**
   * Write into `imageRoot` the disk a power cut after the first `k` logged calls could leave,
   * with the live roots mapped to `imageRoot/<basename of each root>`. Returns the mapped
   * roots in the order given to the constructor.
   */
  crashImage(k: number, imageRoot: string, choice: CrashChoice): string[] {
    const ops = this.log.slice(0, k);
    // When each name change and each data change became durable (if it did).
    const dirSyncs = new Map<string, number>(); // dir → latest `from` of a completed dirsync
    const dataSyncs = new Map<number, number>(); // ino → latest `from` of a completed sync
    for (const op of ops) {
      if (op.t === 'dirsync') dirSyncs.set(op.dir, Math.max(dirSyncs.get(op.dir) ?? -1, op.from));
      if (op.t === 'sync') dataSyncs.set(op.ino, Math.max(dataSyncs.get(op.ino) ?? -1, op.from));
    }
    const nameDurable = (dir: string, index: number) => (dirSyncs.get(dir) ?? -1) > index;

    // Names.
    const names = new Map(this.#initialNames);
    const dirs = new Set(this.#initialDirs);
    const keep = (durable: boolean) => durable || choice.rand() < choice.namesKept;
    ops.forEach((op, i) => {
      switch (op.t) {
        case 'create':
          if (keep(nameDurable(path.dirname(op.path), i))) names.set(op.path, op.ino);
          break;
        case 'mkdir':
          if (keep(nameDurable(path.dirname(op.path), i))) dirs.add(op.path);
          break;
        case 'unlink':
          if (keep(nameDurable(path.dirname(op.path), i))) names.delete(op.path);
          break;
        case 'link': {
          const ino = names.get(op.existing);
          if (ino !== undefined && keep(nameDurable(path.dirname(op.to), i))) names.set(op.to, ino);
          break;
        }
        case 'rename': {
          const ino = names.get(op.from);
          const durable =
            nameDurable(path.dirname(op.from), i) && nameDurable(path.dirname(op.to), i);
          if (ino !== undefined && keep(durable)) {
            names.delete(op.from);
            names.set(op.to, ino);
          }
          break;
        }
        default:
          break;
      }
    });

    // Data.
    const data = new Map<number, Buffer>();
    for (const [ino, buf] of this.#initialData) data.set(ino, Buffer.from(buf));
    ops.forEach((op, i) => {
      if (op.t !== 'write' && op.t !== 'truncate') return;
      const durable = (dataSyncs.get(op.ino) ?? -1) > i;
      let content = data.get(op.ino) ?? Buffer.alloc(0);
      if (op.t === 'truncate') {
        if (durable || choice.data === 'all' || (choice.data === 'pages' && choice.rand() < 0.5))
          content = resize(content, op.len);
      } else {
        const end = op.pos + op.data.length;
        for (let at = op.pos; at < end; ) {
          const pageEnd = Math.min(end, (Math.floor(at / PAGE) + 1) * PAGE);
          const kept =
            durable || choice.data === 'all' || (choice.data === 'pages' && choice.rand() < 0.5);
          if (kept) {
            if (content.length < pageEnd) content = resize(content, pageEnd);
            op.data.copy(content, at, at - op.pos, pageEnd - op.pos);
          }
          at = pageEnd;
        }
      }
      data.set(op.ino, content);
    });

    // Materialise: only what is reachable through directories that exist.
    const mapped = this.#roots.map((r) => path.join(imageRoot, path.basename(r)));
    const mapPath = (p: string) => {
      for (let r = 0; r < this.#roots.length; r++) {
        const root = this.#roots[r]!;
        if (p === root || p.startsWith(`${root}${path.sep}`))
          return path.join(mapped[r]!, path.relative(root, p));
      }
      return undefined;
    };
    // A file or directory exists only if every directory from its root down to it does.
    const dirExists = (d: string): boolean => {
      if (!dirs.has(d)) return false;
      if (this.#roots.includes(d)) return true;
      const up = path.dirname(d);
      return up !== d && dirExists(up);
    };
    for (const d of dirs) {
      const to = mapPath(d);
      if (to && dirExists(d)) fs.mkdirSync(to, { recursive: true, mode: 0o700 });
    }
    for (const [p, ino] of names) {
      const to = mapPath(p);
      if (!to || !dirExists(path.dirname(p))) continue;
      fs.writeFileSync(to, data.get(ino) ?? Buffer.alloc(0));
    }
    // The image stands for the same disk after the power cut, where the store still lives at
    // its path: the anchor lines that bind the store to its path follow it to the image.
    const [storeRoot, ...otherRoots] = this.#roots;
    if (storeRoot) {
      for (const r of [storeRoot, ...otherRoots]) {
        rebindAnchors(mapPath(r)!, storeRoot, mapped[0]!);
      }
    }
    return mapped;
  }
}

/**
 * Rewrite the `store` member of every anchor-format file directly in `dir` (anchor.jsonl,
 * checkpoints.jsonl) from `from` to `to`: a copy of a store and its trust directory that
 * stands for the original at its original path.
 */
export function rebindAnchors(dir: string, from: string, to: string): void {
  if (!fs.existsSync(dir)) return;
  for (const name of fs.readdirSync(dir)) {
    if (name !== 'anchor.jsonl' && name !== 'checkpoints.jsonl') continue;
    const file = path.join(dir, name);
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(
      file,
      text.replaceAll(`"store":${JSON.stringify(from)}`, `"store":${JSON.stringify(to)}`),
    );
  }
}

/** Rebuildable caches the writer does not write through its fs layer. */
function ignored(p: string): boolean {
  return /\.sqlite(-wal|-shm|-journal)?$/.test(p);
}

function resize(buf: Buffer, len: number): Buffer {
  if (buf.length === len) return buf;
  if (buf.length > len) return Buffer.from(buf.subarray(0, len));
  const out = Buffer.alloc(len);
  buf.copy(out);
  return out;
}
