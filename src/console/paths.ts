import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from src/console (tsx) or dist/src/console (compiled). */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (path.basename(dir) === 'src') {
      const parent = path.dirname(dir);
      return path.basename(parent) === 'dist' ? path.dirname(parent) : parent;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('src/console is not inside the repository');
    dir = up;
  }
}

/** Where `npm run build` writes the console and the server reads it from, unless CONSOLE_DIR says otherwise. */
export const defaultConsoleDir = (): string => path.join(repoRoot(), 'dist', 'console');
