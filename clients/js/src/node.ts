// @symbolon/client/node: what only Node.js can offer. Kept apart from the entry point so
// that a browser bundle never imports node:fs.

import { randomBytes } from "node:crypto";
import { mkdir, open, rename, readFile, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { StoreError } from "./errors.js";
import type { TokenRecord, TokenStorage } from "./storage.js";

export * from "./index.js";

/**
 * Tokens in a JSON file, readable by its owner only (mode 0600; the directory is created
 * 0700 when missing). Each save writes a new file beside it (a random name, created only
 * where nothing exists, mode 0600, flushed) and renames it over the old one, so a crash
 * leaves either the old or the new tokens, never a mix.
 *
 * The tokens are not encrypted: the file's mode is their protection. One file serves one
 * process at a time; processes that share it must also share a `lock` (see
 * `SymbolonClientOptions.lock`).
 */
export class FileStorage implements TokenStorage {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  async load(): Promise<TokenRecord | null> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new StoreError(`cannot read ${this.path}`, error);
    }
    try {
      return JSON.parse(text) as TokenRecord;
    } catch {
      // Not the parser's message: it quotes the text, which holds tokens.
      throw new StoreError(`${this.path} is not valid JSON`);
    }
  }

  async save(record: TokenRecord): Promise<void> {
    const dir = dirname(this.path);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const temporary = join(dir, `.${basename(this.path)}.${randomBytes(8).toString("hex")}.tmp`);
    // "wx": created here or not at all (never through a link or over another file).
    const file = await open(temporary, "wx", 0o600);
    try {
      await file.writeFile(JSON.stringify(record), "utf8");
      await file.sync();
    } catch (error) {
      await file.close().catch(() => undefined);
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
    await file.close();
    try {
      await rename(temporary, this.path);
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
  }

  async clear(): Promise<void> {
    try {
      await unlink(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
}
