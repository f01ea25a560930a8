// Run a Python file under MicroPython (WebAssembly build, npm package) with irqio's core on its
// path. Usage: node run.mjs PACKAGE_DIR SRC_DIR SCRIPT.py   (prints what the script prints)
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [pkgDir, srcDir, script] = process.argv.slice(2);
const entry = path.join(pkgDir, "node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs");
const { loadMicroPython } = await import(pathToFileURL(entry).href);
const mp = await loadMicroPython({ stdout: (l) => console.log(l), stderr: (l) => console.error(l) });

function copyTree(from, to) {
  mp.FS.mkdir(to);
  for (const name of fs.readdirSync(from)) {
    const full = path.join(from, name);
    if (fs.statSync(full).isDirectory()) {
      if (name !== "__pycache__") copyTree(full, to + "/" + name);
    } else if (name.endsWith(".py")) {
      mp.FS.writeFile(to + "/" + name, fs.readFileSync(full));
    }
  }
}
mp.FS.mkdir("/lib");
copyTree(path.join(srcDir, "irqio"), "/lib/irqio");
// Stand-ins for micropython-lib's `__future__` and `typing` stubs (mip.install("__future__"),
// mip.install("typing")), with the same behaviour for what irqio uses.
mp.FS.writeFile("/lib/__future__.py", "annotations = True\n");
mp.FS.writeFile("/lib/typing.py", [
  "class _Ignore:",
  "    def __getitem__(self, key):",
  "        return self",
  "    def __call__(self, *args, **kwargs):",
  "        pass",
  "_ignore = _Ignore()",
  "TYPE_CHECKING = False",
  "def TypeVar(name, *types, bound=None, covariant=False, contravariant=False):",
  "    return name",
  "Any = Generic = Protocol = _ignore",
  "",
].join("\n"));
// irqio/__init__.py pulls in CPython-only tools; MicroPython imports the core modules directly.
mp.FS.writeFile("/lib/irqio/__init__.py", "");
try {
  mp.runPython("import sys\nsys.path.insert(0, '/lib')\n" + fs.readFileSync(script, "utf8"));
} catch (e) {
  console.log("MICROPYTHON-ERROR " + String(e.message || e).split("\n").slice(0, 30).join("\n"));
  process.exit(1);
}
