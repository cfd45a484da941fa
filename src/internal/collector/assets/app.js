// The collector's inspector: a live, filterable list of the requests the collector received and their messages.
// Plain browser JavaScript, no dependency, served by the collector itself. Everything shown from a payload goes
// through textContent: a message is data from the application's users and must never become markup. Loaded as a
// module, so nothing here is global.
const $ = (id) => document.getElementById(id)
const token = new URLSearchParams(location.search).get("token") || ""
const rowHeight = 26
const overscan = 8

// --- data ------------------------------------------------------------------------------------------------
/** Requests and messages, oldest first; seqs are contiguous, so a seq finds its item by offset. */
let requests = []
let messages = []
/** The rows on screen, newest request first: -seq for a request, seq for a message. */
let rows = []
let shown = 0
let retain = 100000
/** And at most this much message JSON (its length, as the collector counts it); `jsonLength` is what the page holds. */
let retainJson = Infinity
let jsonLength = 0
let paused = false
let pending = []
let pendingMessages = 0
let pendingRequests = 0
let pendingJson = 0
/** The selected row (its key, as in rows). */
let selected = undefined
let lastState = undefined
let control = false

const requestAt = (seq) => {
  const first = requests[0]
  return first === undefined ? undefined : requests[seq - first.seq]
}
const messageAt = (seq) => {
  const first = messages[0]
  return first === undefined ? undefined : messages[seq - first.seq]
}

// --- formatting --------------------------------------------------------------------------------------------
const number = (n) => n.toLocaleString("en-US")
const plural = (n, word) => number(n) + " " + word + (n === 1 ? "" : "s")
const pad = (n, width) => String(n).padStart(width, "0")
const time = (at) => {
  const d = new Date(at)
  return pad(d.getHours(), 2) + ":" + pad(d.getMinutes(), 2) + ":" + pad(d.getSeconds(), 2) + "." +
    pad(d.getMilliseconds(), 3)
}
const size = (bytes) => bytes < 1024 ? bytes + " B" : (bytes / 1024).toFixed(1) + " KB"
const answerOf = (r) => r.status !== undefined ? String(r.status) : r.fault === "hang" ? "no answer (hang)" : "dropped"
const statusClass = (r) =>
  r.status === 200
    ? "status-ok"
    : r.status === undefined || r.status >= 500 || r.status === 429
    ? "status-error"
    : "status-warn"

const el = (tag, className, text) => {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined) node.textContent = text
  return node
}

// --- filters -----------------------------------------------------------------------------------------------
const filter = { type: "", user: "", name: "", text: "", problems: false }
const active = () =>
  filter.type !== "" || filter.user !== "" || filter.name !== "" || filter.text !== "" || filter.problems

const lower = (m, key, value) => {
  const cached = m[key]
  if (cached !== undefined) return cached
  const text = value === undefined ? "" : value.toLowerCase()
  m[key] = text
  return text
}

const matches = (m) => {
  if (filter.type !== "" && m.type !== filter.type) return false
  if (filter.problems && m.checks.length === 0) return false
  if (filter.user !== "") {
    if (!lower(m, "_u", m.userId).includes(filter.user) && !lower(m, "_a", m.anonymousId).includes(filter.user)) {
      return false
    }
  }
  if (filter.name !== "" && !lower(m, "_n", m.name).includes(filter.name)) return false
  if (filter.text !== "" && !lower(m, "_j", m.json).includes(filter.text)) return false
  return true
}

/** The rows of some requests, newest first; counts the messages shown. */
const rowsOf = (list) => {
  const out = []
  const filtering = active()
  let count = 0
  for (let r = list.length - 1; r >= 0; r--) {
    const request = list[r]
    const start = out.length
    out.push(-request.seq)
    let any = false
    for (let seq = request.first; seq < request.first + request.count; seq++) {
      const m = messageAt(seq)
      if (m === undefined) continue
      if (!filtering || matches(m)) {
        out.push(seq)
        any = true
        count++
      }
    }
    if (filtering && !any) out.length = start
  }
  return { rows: out, count }
}

const applyFilters = () => {
  const started = performance.now()
  const built = rowsOf(requests)
  rows = built.rows
  shown = built.count
  list.scrollTop = 0
  render()
  summarize()
  const elapsed = performance.now() - started
  list.dataset.filterMillis = elapsed.toFixed(1)
}

const readFilters = () => {
  filter.type = $("f-type").value
  filter.user = $("f-user").value.trim().toLowerCase()
  filter.name = $("f-name").value.trim().toLowerCase()
  filter.text = $("f-text").value.trim().toLowerCase()
  filter.problems = $("f-problems").checked
  applyFilters()
}
for (const id of ["f-type", "f-problems"]) $(id).addEventListener("change", readFilters)
for (const id of ["f-user", "f-name", "f-text"]) $(id).addEventListener("input", readFilters)
$("filters").addEventListener("submit", (event) => event.preventDefault())

// --- the list (virtual: only the rows in view exist) -------------------------------------------------------
const list = $("list")
const spacer = $("spacer")
let scheduled = false
const schedule = () => {
  if (scheduled) return
  scheduled = true
  requestAnimationFrame(() => {
    scheduled = false
    render()
  })
}
list.addEventListener("scroll", schedule)
window.addEventListener("resize", schedule)

const rowId = (key) => "row-" + (key < 0 ? "r" + -key : "m" + key)

const requestRowContent = (node, r) => {
  node.className = "row request"
  node.append(el("span", "time", time(r.at)))
  node.append(el("span", "", "#" + r.seq))
  node.append(el("span", "muted", plural(r.messages, "message") + " · " + size(r.bytes) + (r.gzip ? " · gzip" : "")))
  if (r.retryCount !== undefined && r.retryCount > 0) {
    node.append(el("span", "badge status-warn", "retry " + r.retryCount))
  }
  node.append(el("span", "badge " + statusClass(r), answerOf(r) + (r.fault ? " (fault)" : "")))
  if (r.duplicates > 0) node.append(el("span", "muted", plural(r.duplicates, "duplicate")))
}

const messageRowContent = (node, m) => {
  node.className = "row message"
  node.append(el("span", "type", m.type))
  const user = m.userId !== undefined ? m.userId : m.anonymousId !== undefined ? "anon " + m.anonymousId : "no user"
  node.append(el("span", "user", user))
  node.append(el("span", "name", m.name === undefined ? "" : m.name))
  node.append(el("span", "ts", m.timestamp === undefined ? "" : m.timestamp))
  if (m.outcome !== "accepted") {
    node.append(el("span", "badge " + (m.outcome === "duplicate" ? "status-warn" : "status-error"), m.outcome))
  }
  const errors = m.checks.filter((c) => c.level === "error").length
  const warnings = m.checks.length - errors
  if (errors > 0) node.append(el("span", "badge level-error", plural(errors, "error")))
  if (warnings > 0) node.append(el("span", "badge level-warning", plural(warnings, "warning")))
}

const render = () => {
  spacer.style.height = rows.length * rowHeight + "px"
  const top = list.scrollTop
  const first = Math.max(0, Math.floor(top / rowHeight) - overscan)
  const last = Math.min(rows.length, Math.ceil((top + list.clientHeight) / rowHeight) + overscan)
  const fragment = document.createDocumentFragment()
  fragment.append(spacer)
  for (let i = first; i < last; i++) {
    const key = rows[i]
    const node = document.createElement("div")
    node.id = rowId(key)
    node.setAttribute("role", "option")
    node.setAttribute("aria-setsize", String(rows.length))
    node.setAttribute("aria-posinset", String(i + 1))
    node.setAttribute("aria-selected", key === selected ? "true" : "false")
    node.style.top = i * rowHeight + "px"
    node.dataset.key = String(key)
    if (key < 0) {
      const r = requestAt(-key)
      if (r !== undefined) requestRowContent(node, r)
    } else {
      const m = messageAt(key)
      if (m !== undefined) messageRowContent(node, m)
    }
    fragment.append(node)
  }
  list.replaceChildren(fragment)
  if (selected !== undefined && document.getElementById(rowId(selected))) {
    list.setAttribute("aria-activedescendant", rowId(selected))
  } else list.removeAttribute("aria-activedescendant")
}

const summarize = () => {
  const total = messages.length
  let text
  if (requests.length === 0) text = "No messages yet. Point a client at the address above."
  else if (active()) text = "Showing " + number(shown) + " of " + plural(total, "message")
  else text = "Showing all " + plural(total, "message") + " in " + plural(requests.length, "request")
  if (lastState !== undefined && lastState.retained.messages < lastState.counters.received) {
    text += " (the collector keeps the latest " + number(lastState.retained.messages) + " of the " +
      number(lastState.counters.received) + " received)"
  }
  if (paused) text += ". Paused: " + plural(pendingMessages, "new message") + " waiting."
  $("summary").textContent = text
}

// --- selection and keyboard --------------------------------------------------------------------------------
const select = (key, scroll) => {
  selected = key
  const index = rows.indexOf(key)
  if (scroll && index >= 0) {
    const top = index * rowHeight
    if (top < list.scrollTop) list.scrollTop = top
    else if (top + rowHeight > list.scrollTop + list.clientHeight) {
      list.scrollTop = top + rowHeight - list.clientHeight
    }
  }
  render()
  showDetail(key)
}

list.addEventListener("click", (event) => {
  const row = event.target.closest(".row")
  if (row === null) return
  list.focus()
  select(Number(row.dataset.key), false)
})
list.addEventListener("dblclick", () => $("detail").focus())

list.addEventListener("keydown", (event) => {
  if (rows.length === 0) return
  const index = selected === undefined ? -1 : rows.indexOf(selected)
  const page = Math.max(1, Math.floor(list.clientHeight / rowHeight) - 1)
  let next
  switch (event.key) {
    case "ArrowDown":
      next = Math.min(rows.length - 1, index + 1)
      break
    case "ArrowUp":
      next = Math.max(0, index - 1)
      break
    case "PageDown":
      next = Math.min(rows.length - 1, index + page)
      break
    case "PageUp":
      next = Math.max(0, index - page)
      break
    case "Home":
      next = 0
      break
    case "End":
      next = rows.length - 1
      break
    case "Enter":
      if (selected !== undefined) $("detail").focus()
      event.preventDefault()
      return
    default:
      return
  }
  event.preventDefault()
  select(rows[next], true)
})

$("detail").addEventListener("keydown", (event) => {
  if (event.key === "Escape") list.focus()
})

document.addEventListener("keydown", (event) => {
  const target = event.target
  const typing = target instanceof HTMLInputElement || target instanceof HTMLSelectElement
  if (event.key === "/" && !typing) {
    event.preventDefault()
    $("f-text").focus()
  } else if (event.key === "Escape" && typing && target.closest("#filters")) {
    list.focus()
  }
})

// --- details -----------------------------------------------------------------------------------------------
const table = (pairs) => {
  const t = el("table")
  for (const [name, value] of pairs) {
    if (value === undefined) continue
    const tr = el("tr")
    tr.append(el("th", "", name), el("td", "mono", String(value)))
    t.append(tr)
  }
  return t
}

const pretty = (json) => {
  try {
    return JSON.stringify(JSON.parse(json), null, 2)
  } catch {
    return json
  }
}

const showDetail = (key) => {
  const detail = $("detail")
  const parts = []
  if (key < 0) {
    const r = requestAt(-key)
    if (r === undefined) return
    parts.push(el("h2", "", "Request #" + r.seq))
    parts.push(table([
      ["received", new Date(r.at).toISOString()],
      ["answer", answerOf(r) + (r.fault ? " (injected fault: " + r.fault + ")" : "")],
      ["error", r.error],
      ["messages", r.messages],
      ["accepted", r.accepted],
      ["duplicates", r.duplicates],
      ["bytes", r.bytes + (r.gzip ? " (gzip)" : "")],
      ["X-Retry-Count", r.retryCount]
    ]))
    parts.push(el("h3", "", "Headers"))
    parts.push(table(Object.entries(r.headers)))
  } else {
    const m = messageAt(key)
    if (m === undefined) return
    parts.push(el("h2", "", m.type + (m.name === undefined ? "" : " · " + m.name)))
    parts.push(table([
      ["outcome", m.outcome],
      ["request", "#" + m.request + " (message " + (m.index + 1) + ")"],
      ["messageId", m.messageId],
      ["userId", m.userId],
      ["anonymousId", m.anonymousId],
      ["timestamp", m.timestamp],
      ["received", new Date(m.at).toISOString()],
      ["size", m.bytes + " bytes"]
    ]))
    parts.push(el("h3", "", m.checks.length === 0 ? "Checks: all passed" : "Checks"))
    if (m.checks.length > 0) {
      const ul = el("ul", "checks")
      for (const check of m.checks) {
        ul.append(el("li", "level-" + check.level, check.level + " (" + check.rule + "): " + check.message))
      }
      parts.push(ul)
    }
    parts.push(el("h3", "", "JSON"))
    parts.push(el("pre", "json", pretty(m.json)))
  }
  detail.replaceChildren(...parts)
}

// --- counters and faults -----------------------------------------------------------------------------------
const showState = (state) => {
  lastState = state
  retain = state.retain
  retainJson = state.retainJson
  $("endpoint").textContent = state.endpoint
  $("c-messages").textContent = number(state.stats.messages)
  $("c-received").textContent = number(state.counters.received)
  $("c-requests").textContent = number(state.stats.requests)
  $("c-duplicates").textContent = number(state.stats.duplicates)
  $("c-retries").textContent = number(state.stats.retries)
  $("c-errors").textContent = number(state.counters.errors)
  $("c-warnings").textContent = number(state.counters.warnings)
  const answers = Object.entries(state.stats.answers).toSorted(([a], [b]) => a.localeCompare(b))
  $("c-answers").textContent = answers.length === 0
    ? "none yet"
    : answers.map(([status, count]) => status + ": " + number(count)).join(" · ")
  showFaults(state.faults)
  summarize()
}

const showFaults = (faults) => {
  const parts = faults.pending.map((p) => p.answer + (p.count > 1 ? " × " + p.count : ""))
  let text = parts.length === 0
    ? "No fault queued: requests are answered as the API would."
    : "Next requests: " + parts.join(", then ") + "."
  if (faults.failureRate) {
    text += " Failure rate: " + Math.round(faults.failureRate.rate * 100) + "% answered " +
      faults.failureRate.status + "."
  }
  $("fault-pending").textContent = text
}

const setControl = (allowed) => {
  control = allowed
  for (const id of ["fault-count", "fault-kind", "fault-retry-after", "fault-apply", "fault-clear"]) {
    $(id).disabled = !allowed
  }
  $("read-only").hidden = allowed
}
setControl(false)

const api = async (method, path, body) => {
  const headers = { "x-collector-token": token }
  if (body !== undefined) headers["content-type"] = "application/json"
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store"
  })
  const json = await response.json().catch(() => ({}))
  if (!response.ok) throw new Error(json.error || "HTTP " + response.status)
  return json
}

const report = (error) => {
  $("fault-pending").textContent = "The collector refused: " + error.message
}

$("fault-kind").addEventListener("change", () => {
  $("retry-after-label").hidden = $("fault-kind").value !== "429"
})
$("retry-after-label").hidden = true
$("fault-form").addEventListener("submit", (event) => {
  event.preventDefault()
  if (!control) return
  const body = { fault: $("fault-kind").value, count: Number($("fault-count").value) || 1 }
  if (body.fault === "429") body.retryAfter = Number($("fault-retry-after").value) || 0
  api("POST", "/inspector/api/faults", body).then(showFaults, report)
})
$("fault-clear").addEventListener("click", () => {
  if (control) api("DELETE", "/inspector/api/faults").then(showFaults, report)
})

// --- pause ---------------------------------------------------------------------------------------------------
$("pause").addEventListener("click", () => {
  paused = !paused
  $("pause").setAttribute("aria-pressed", String(paused))
  $("pause").textContent = paused ? "Resume" : "Pause"
  if (!paused) {
    const waiting = pending
    pending = []
    pendingMessages = 0
    pendingRequests = 0
    pendingJson = 0
    for (const batch of waiting) add(batch)
  }
  summarize()
})

// --- live feed -------------------------------------------------------------------------------------------------
const add = (batch) => {
  if (batch.requests.length === 0) return
  // A gap means the collector forgot what came before it (it keeps the latest only): so does the page.
  const lastRequest = requests[requests.length - 1]
  const lastMessage = messages[messages.length - 1]
  const firstMessage = batch.messages[0]
  if (
    (lastRequest !== undefined && batch.requests[0].seq !== lastRequest.seq + 1) ||
    (lastMessage !== undefined && firstMessage !== undefined && firstMessage.seq !== lastMessage.seq + 1)
  ) {
    requests = []
    messages = []
    rows = []
    shown = 0
    jsonLength = 0
  }
  for (const m of batch.messages) {
    messages.push(m)
    jsonLength += m.json.length
  }
  for (const r of batch.requests) requests.push(r)
  // Forget the oldest beyond what the collector keeps: messages by count and by size, requests by count (refused
  // ones have no messages to bound them). A request goes with its messages and messages with their request, as in
  // the collector's feed. The rows that show what is forgotten are the last ones.
  let forget = Math.max(0, messages.length - retain)
  for (let i = 0; i < forget; i++) jsonLength -= messages[i].json.length
  while (jsonLength > retainJson && forget < messages.length - 1) jsonLength -= messages[forget++].json.length
  let dropRequests = Math.max(0, requests.length - retain)
  if (forget > 0) {
    const oldestKept = messages[forget].seq
    while (
      dropRequests < requests.length - 1 &&
      requests[dropRequests].first < oldestKept &&
      requests[dropRequests].first + requests[dropRequests].count <= oldestKept
    ) {
      dropRequests++
    }
  }
  if (dropRequests > 0) {
    const keptFrom = requests[dropRequests].first
    while (forget < messages.length && messages[forget].seq < keptFrom) jsonLength -= messages[forget++].json.length
  }
  if (forget > 0 || dropRequests > 0) {
    messages = messages.slice(forget)
    requests = requests.slice(dropRequests)
    const oldest = messages.length > 0 ? messages[0].seq : Infinity
    const firstRequest = requests[0].seq
    while (rows.length > 0) {
      const key = rows[rows.length - 1]
      if (key < 0 ? -key >= firstRequest : key >= oldest) break
      rows.pop()
      if (key > 0) shown--
    }
    // The oldest request kept may have lost some of its messages (its rows come last): build its rows again.
    const at = rows.lastIndexOf(-firstRequest)
    if (at !== -1) {
      shown -= rows.length - at - 1
      rows.length = at
      const rebuilt = rowsOf([requests[0]])
      for (const key of rebuilt.rows) rows.push(key)
      shown += rebuilt.count
    }
  }
  const added = rowsOf(batch.requests)
  rows = added.rows.concat(rows)
  shown += added.count
  // Keep what the reader looks at in place when rows arrive above it.
  if (list.scrollTop > 0) list.scrollTop += added.rows.length * rowHeight
  schedule()
  summarize()
}

const reset = () => {
  requests = []
  messages = []
  rows = []
  shown = 0
  pending = []
  pendingMessages = 0
  pendingRequests = 0
  pendingJson = 0
  jsonLength = 0
  selected = undefined
  $("detail").replaceChildren(el("p", "hint", "Select a request or a message to see it here."))
  schedule()
  summarize()
}

const connect = () => {
  const source = new EventSource("/inspector/api/events")
  const connection = $("connection")
  source.addEventListener("open", () => {
    connection.textContent = "live"
    connection.className = "connection live"
  })
  source.addEventListener("error", () => {
    connection.textContent = "disconnected: reconnecting…"
    connection.className = "connection down"
  })
  source.addEventListener("reset", reset)
  source.addEventListener("state", (event) => showState(JSON.parse(event.data)))
  source.addEventListener("rows", (event) => {
    const batch = JSON.parse(event.data)
    if (paused) {
      batch.jsonLength = batch.messages.reduce((sum, m) => sum + m.json.length, 0)
      pending.push(batch)
      pendingMessages += batch.messages.length
      pendingRequests += batch.requests.length
      pendingJson += batch.jsonLength
      // What waits is bounded as the list is: the oldest batches go once the newer ones fill what the page keeps.
      while (
        pending.length > 1 &&
        (pendingMessages - pending[0].messages.length >= retain ||
          pendingRequests - pending[0].requests.length >= retain ||
          pendingJson - pending[0].jsonLength >= retainJson)
      ) {
        const gone = pending.shift()
        pendingMessages -= gone.messages.length
        pendingRequests -= gone.requests.length
        pendingJson -= gone.jsonLength
      }
      summarize()
    } else add(batch)
  })
}

api("GET", "/inspector/api/state").then(
  (state) => {
    setControl(state.control === true)
    showState(state)
  },
  () => setControl(false)
)
summarize()
connect()
