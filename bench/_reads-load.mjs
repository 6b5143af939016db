import autocannon from 'autocannon';
const [url, token, amount, connections, pathsFile] = process.argv.slice(2);
const paths = JSON.parse(await import('node:fs').then((fs) => fs.readFileSync(pathsFile, 'utf8')));
let i = 0;
const r = await autocannon({ url, amount: Number(amount), connections: Number(connections), headers: { authorization: 'Bearer ' + token },
  requests: [{ setupRequest: (req) => ({ ...req, path: paths[i++ % paths.length] }) }] });
console.log(JSON.stringify({ total: r.requests.total, non2xx: r.non2xx, errors: r.errors }));