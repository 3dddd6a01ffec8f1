-- Headless Neovim as a real LSP client of `flowc lsp` (Debian's Neovim 0.7 API):
-- open a file with a mistake, wait for the diagnostic, fix the mistake, wait for it to clear.
-- Writes what it saw to $OUT, one line per observation.
local flowc, file, out = os.getenv("FLOWC"), os.getenv("FLOW_FILE"), os.getenv("OUT")
local seen = {}
local client = vim.lsp.start_client({ name = "flowc", cmd = { flowc, "lsp" }, root_dir = vim.fn.getcwd() })
if not client then
  vim.fn.writefile({ "no client" }, out)
  vim.cmd("qa!")
end
vim.cmd("edit " .. file)
local buf = vim.api.nvim_get_current_buf()
vim.lsp.buf_attach_client(buf, client)
-- The waits end as soon as the condition holds; their two minutes only guard against a hang,
-- so a slow machine never fails the test.
local got = vim.wait(120000, function() return #vim.diagnostic.get(buf) > 0 end, 50)
table.insert(seen, "diagnostics=" .. tostring(got))
for _, d in ipairs(vim.diagnostic.get(buf)) do
  table.insert(seen, "line " .. d.lnum .. ": " .. (d.message:gsub("\n.*", "")))
end
local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
for i, l in ipairs(lines) do
  lines[i] = l:gsub("emial", "email")
end
vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
local cleared = vim.wait(120000, function() return #vim.diagnostic.get(buf) == 0 end, 50)
table.insert(seen, "cleared=" .. tostring(cleared))
vim.fn.writefile(seen, out)
vim.lsp.stop_client(client)
vim.cmd("qa!")
