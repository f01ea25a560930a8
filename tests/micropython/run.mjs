// Run a Python file under MicroPython (WebAssembly build, npm package) with irqio on its path
// (the real package: `import irqio` needs nothing else).
// Usage: node run.mjs PACKAGE_DIR SRC_DIR SCRIPT.py   (prints what the script prints)
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
try {
  mp.runPython("import sys\nsys.path.insert(0, '/lib')\n" + fs.readFileSync(script, "utf8"));
} catch (e) {
  console.log("MICROPYTHON-ERROR " + String(e.message || e).split("\n").slice(0, 30).join("\n"));
  process.exit(1);
}
