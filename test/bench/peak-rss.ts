// Loaded with --import into a benchmarked process: its peak resident set size, printed on stderr at exit.
process.on("exit", () => process.stderr.write(`peak-rss-bytes ${process.resourceUsage().maxRSS * 1024}\n`))
