// tests/xs/trim_globals.js
// Run before peer_app.js when capturing fixtures: deletes the configurable
// built-in globals so each captured reply stays small (a few KiB, not 13).
{
  const g = globalThis;
  const keep = new Set(["print", "trace", "String", "ArrayBuffer", "Object"]);
  for (const key of Object.getOwnPropertyNames(g))
    if (!keep.has(key)) delete g[key];
}
