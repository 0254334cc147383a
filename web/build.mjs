// Builds the web app into OUT (default ../build/web): the typed Twirp client
// generated from proto/ (protobuf-ts), a type check (tsc), the entry bundle
// and the chunks it loads on demand with hashed names (esbuild), index.html
// naming the entry only, and a gzip'd copy of each file for the gateway to
// serve as it is (no compression per request).
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync } from "node:fs";
import { gzipSync, constants } from "node:zlib";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "../build/web"));
const gen = join(here, "gen");
// the public services and what they import (rpc.proto: Principal, Code)
const protos = ["identity.proto", "pipeline.proto", "activities.proto", "notifications.proto", "common.proto", "rpc.proto"];

rmSync(gen, { recursive: true, force: true });
mkdirSync(gen, { recursive: true });
execFileSync("protoc", [
    "-I" + join(here, "../proto"), "-I/usr/include",
    "--plugin=protoc-gen-ts=" + join(here, "node_modules/.bin/protoc-gen-ts"),
    "--ts_out=" + gen,
    // int64 as strings (as proto3 JSON has them); reflection-driven code is smaller
    "--ts_opt=long_type_string,optimize_code_size",
    ...protos.map((p) => join(here, "../proto", p)),
], { stdio: "inherit" });

execFileSync(join(here, "node_modules/.bin/tsc"), ["-p", here], { stdio: "inherit" });

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });
const result = await esbuild.build({
    entryPoints: [join(here, "src/main.tsx")],
    bundle: true,
    minify: true,
    format: "esm",
    // a screen's heavy library (the report's chart) in a chunk of its own,
    // fetched by a dynamic import when that screen opens
    splitting: true,
    chunkNames: "chunk-[hash]",
    target: "es2022",
    outdir: join(out, "assets"),
    entryNames: "[name]-[hash]",
    assetNames: "[name]-[hash]",
    jsx: "automatic",
    jsxImportSource: "preact",
    metafile: true,
    legalComments: "none",
    logLevel: "warning",
});

const outputs = result.metafile.outputs;
const entry = Object.keys(outputs).find((p) => outputs[p].entryPoint && p.endsWith(".js"));
// what the first screen loads: the entry and, transitively, the chunks it
// imports statically; a dynamic import waits for its screen
const firstScreenFiles = new Set();
(function take(p) {
    if (firstScreenFiles.has(p)) return;
    firstScreenFiles.add(p);
    for (const i of outputs[p].imports) if (i.kind === "import-statement" && !i.external) take(i.path);
})(entry);
const rel = (p) => resolve(p).slice(out.length);
const js = [rel(entry)];
const css = Object.keys(outputs).filter((p) => p.endsWith(".css")).map(rel);
// no inline script or style: the Content-Security-Policy allows neither
const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CRM</title>
${css.map((c) => `<link rel="stylesheet" href="${c}">`).join("\n")}
${js.map((j) => `<script type="module" src="${j}"></script>`).join("\n")}
</head>
<body>
<div id="app"></div>
<noscript>The CRM needs JavaScript.</noscript>
</body>
</html>
`;
writeFileSync(join(out, "index.html"), html);

const firstScreenPaths = new Set([...firstScreenFiles].map(rel));
let firstScreen = 0;
for (const file of ["index.html", ...readdirSync(join(out, "assets")).map((f) => "assets/" + f)]) {
    const data = readFileSync(join(out, file));
    const gz = gzipSync(data, { level: constants.Z_BEST_COMPRESSION });
    writeFileSync(join(out, file + ".gz"), gz);
    if (firstScreenPaths.has("/" + file)) firstScreen += gz.length;
}
writeFileSync(join(out, "size.txt"), `first screen JavaScript, gzip'd: ${firstScreen} bytes\n`);
console.log(`  web app in ${out}: first screen JavaScript ${(firstScreen / 1024).toFixed(1)} KiB gzip'd`);
