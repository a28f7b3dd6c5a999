// Bundles src/index.ts into one ES module for j2w (which needs plain JavaScript).
// The Spin esbuild plugin marks the WIT imports of our dependencies (wasi:http ...) as external,
// so componentize-js binds them to the component's imports instead of esbuild resolving them.
import { mkdir } from "node:fs/promises";
import { build } from "esbuild";
import { SpinEsbuildPlugin } from "@spinframework/build-tools/plugins/esbuild/index.js";

await build({
    entryPoints: ["./src/index.ts"],
    outfile: "./build/bundle.js",
    bundle: true,
    format: "esm",
    platform: "browser",
    sourcemap: true,
    minify: false,
    plugins: [await SpinEsbuildPlugin()],
});
// j2w writes dist/hello.wasm but does not create dist/.
await mkdir("./dist", { recursive: true });
