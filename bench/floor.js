// The replay floor: read the log line by line (the same line splitter replay uses) and
// JSON.parse each line, nothing else. Prints {events, ms}.
//
// With `decode` as the second argument it also validates each record against the event
// contract (decodeEvent, as replay does): the row that shows what validation adds to the parse.
import { decodeEvent } from '../dist/events/decode.js';
import { forEachLine, openLog } from '../dist/io/lines.js';

const [path, mode = 'parse'] = process.argv.slice(2);
const t0 = performance.now();
let n = 0;
let sink = 0;
if (mode === 'decode') {
  await forEachLine(openLog(path).stream, (line) => {
    sink += decodeEvent(line).ok ? 1 : -1;
    n++;
  });
} else {
  await forEachLine(openLog(path).stream, (line) => {
    // The generated log has a few invalid lines on purpose; parsing them fails here as in replay.
    try {
      sink += JSON.parse(line) === null ? 0 : 1;
    } catch {
      sink--;
    }
    n++;
  });
}
const ms = performance.now() - t0;
process.stdout.write(JSON.stringify({ events: n, ms, sink }) + '\n');
