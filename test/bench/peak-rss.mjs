// Loaded with --import into a benchmarked process: its peak resident set size, printed on stderr at exit. Plain
// JavaScript on purpose: a .ts file would make Node load its type stripper, about 15 MB that users do not pay.
process.on("exit", () => process.stderr.write(`peak-rss-bytes ${process.resourceUsage().maxRSS * 1024}\n`))
