// bench/workloads' Node.js workload: an application's state of ENTRIES
// records, then "ready" and an idle event loop.
const entries = Number(process.argv[2]);
const state = new Map();
for (let i = 0; i < entries; i++)
	state.set('user-' + i, { id: i, name: 'name-' + i, tags: ['a', 'b', String(i % 7)] });
let n = 0;
for (const [k, v] of state) n += k.length + v.id + v.tags.length;
console.log('ready');
setInterval(() => n, 1e9);
