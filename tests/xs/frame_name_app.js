// tests/xs/frame_name_app.js
// A function whose name holds `<`, `&` and `"`: XS writes frame names into
// the `name` attribute without escaping them (fixture frame-name-raw.machine).
const o = { ["a<b&c\"d"]() { debugger; return 1; } };
print("frame_name_app: done " + o["a<b&c\"d"]());
