// tests/xs/strings_app.js
// Strings whose bytes XS writes as it holds them, not as UTF-8 of the text:
// xs_peer checks that amber's parser hands each one over byte for byte.
function strings() {
  const nul = "nul\0";            // &#0;
  const ctl = "ctl\u001f\u007f";  // &#31;&#127;
  const u80 = "u80\u0080";        // the lone byte 0x80, not C2 80
  const pua = "pua\uf741";        // EF 9D 81: amber's own escape range
  const sur = "sur\ud800";        // a lone surrogate as CESU-8: ED A0 80
  const emoji = "emoji\u{1f600}"; // a surrogate pair, as 4-byte UTF-8
  debugger;
  return nul.length + ctl.length + u80.length + pua.length + sur.length + emoji.length;
}
print("strings_app: done " + strings());
