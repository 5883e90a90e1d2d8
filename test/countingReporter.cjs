// Mocha reporter: the usual spec output, plus the counts written as JSON to
// $CODEDANCE_COUNTS_FILE so scripts/test-all.mjs can sum every layer into one line.
const fs = require('node:fs');
const Mocha = require('mocha');

class CountingReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once('end', () => {
      const file = process.env.CODEDANCE_COUNTS_FILE;
      if (!file) return;
      const s = this.stats;
      fs.writeFileSync(file, JSON.stringify({ passed: s.passes, failed: s.failures, skipped: s.pending }));
    });
  }
}
module.exports = CountingReporter;
