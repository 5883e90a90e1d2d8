// Mocha reporter: the usual spec output, plus the counts written as JSON to
// $CODEDANCE_COUNTS_FILE so scripts/test-all.mjs can sum every layer into one line, with each
// failure's title and the head of its error (repeated after the table, where CI's tail shows it).
const fs = require('node:fs');
const Mocha = require('mocha');

class CountingReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const failures = [];
    runner.on('fail', (test, err) => {
      const message = String((err && (err.stack || err.message)) || err)
        .split('\n')
        .slice(0, 6)
        .join('\n');
      failures.push({ title: test.fullTitle(), file: test.file, message });
    });
    runner.once('end', () => {
      const file = process.env.CODEDANCE_COUNTS_FILE;
      if (!file) return;
      const s = this.stats;
      fs.writeFileSync(file, JSON.stringify({ passed: s.passes, failed: s.failures, skipped: s.pending, failures }));
    });
  }
}
module.exports = CountingReporter;
