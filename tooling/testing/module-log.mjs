// `node --import ./module-log.mjs …`: appends the URL of every module the process resolves to
// the file OSM_MODULE_LOG names, so a test can tell which packages a running app loaded.
import { register } from "node:module";

register("./module-log-hooks.mjs", import.meta.url, { data: { file: process.env.OSM_MODULE_LOG } });
