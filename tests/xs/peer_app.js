// tests/xs/peer_app.js
// The program xs_peer runs in a real XS machine: globals, a frame whose
// locals hold every kind of value the peer test checks, and one `debugger;`.
var g1 = 42;
var gstr = "tab\there <less> & \"q\" \u0001 end";
var gobj = { a: 1, b: "two", nested: { c: [1, 2, 3] } };
let glet = "lexical";

function work(n) {
  const local1 = n * 2;
  let text = "a<b & c>d\u0007";
  const obj = { x: 1, y: "why", arr: [10, 20], f: 1.5, big: 12n, neg0: -0 };
  const arr = [1, "two", { three: 3 }];
  const rab = new ArrayBuffer(4, { maxByteLength: 16 });
  obj.self = obj;
  debugger;
  return local1 + obj.x + arr.length + rab.byteLength;
}

trace("peer_app: trace <1> & done\n");
print("peer_app: done " + work(5));
