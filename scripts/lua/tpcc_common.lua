-- tpcc_common.lua -- helpers, schema and data loader for tpcc.lua
--
-- Part of dbpecker.  Loaded by tpcc.lua with require("tpcc_common"); the
-- directory of tpcc.lua is added to package.path by tpcc.lua itself.
--
-- Targets sysbench 1.0.20 (LuaJIT).  See docs/workloads-lua.md.

local ffi = require("ffi")
local bit = require("bit")

local M = {}

-- ---------------------------------------------------------------------------
-- FFI declarations (each sysbench thread has its own Lua state; a
-- declaration that already exists in a state is silently skipped)
-- ---------------------------------------------------------------------------
local function cdef(s) pcall(ffi.cdef, s) end
cdef [[ typedef struct { long tv_sec; long tv_nsec; } dbp_timespec_t; ]]
cdef [[ int clock_gettime(int clk_id, dbp_timespec_t *tp); ]]
cdef [[ char *getenv(const char *name); ]]
cdef [[ int setenv(const char *name, const char *value, int overwrite); ]]
cdef [[ void *calloc(size_t nmemb, size_t size); ]]
cdef [[ int getpid(void); ]]
cdef [[ int usleep(unsigned int usec); ]]
cdef [[ int pthread_mutex_lock(void *mutex); ]]
cdef [[ int pthread_mutex_unlock(void *mutex); ]]

local tsbuf = ffi.new("dbp_timespec_t")

-- Monotonic clock in seconds (double)
function M.now()
   ffi.C.clock_gettime(1 --[[CLOCK_MONOTONIC]], tsbuf)
   return tonumber(tsbuf.tv_sec) + tonumber(tsbuf.tv_nsec) * 1e-9
end

-- ---------------------------------------------------------------------------
-- Process-wide shared memory.
--
-- sysbench 1.0 runs every worker thread, the intermediate-report thread and
-- the main thread in separate Lua states, so ordinary Lua globals are not
-- shared.  The first state created in the process (the main state, created
-- before any thread starts) allocates a zeroed block with calloc() and
-- publishes its address in an environment variable that includes the pid;
-- every later state maps the same block.  Layout (doubles unless noted):
--   bytes [0, 64)      a pthread mutex (all-zero == PTHREAD_MUTEX_INITIALIZER)
--   glob[0..31]        process-global values
--   slot(t)[0..63]     per-thread counters, written only by thread t
-- ---------------------------------------------------------------------------
M.MAX_SLOTS = 1100
M.SLOT_SIZE = 64
local SHM_BYTES = 64 + 32 * 8 + M.MAX_SLOTS * M.SLOT_SIZE * 8

function M.shm_attach(tag)
   local name = "DBP_SB_SHM_" .. tag .. "_" .. tostring(ffi.C.getpid())
   local v = ffi.C.getenv(name)
   local addr
   if v == nil then
      local p = ffi.C.calloc(1, SHM_BYTES)
      assert(p ~= nil, "calloc failed")
      addr = tonumber(ffi.cast("uintptr_t", p))
      ffi.C.setenv(name, string.format("%.0f", addr), 1)
   else
      addr = tonumber(ffi.string(v))
   end
   local base = ffi.cast("char *", ffi.cast("uintptr_t", addr))
   local shm = {
      mutex = base,
      glob = ffi.cast("double *", base + 64),
      slots = ffi.cast("double *", base + 64 + 32 * 8),
   }
   function shm.slot(t)
      assert(t >= 0 and t < M.MAX_SLOTS, "too many threads")
      return shm.slots + t * M.SLOT_SIZE
   end
   function shm.lock() ffi.C.pthread_mutex_lock(shm.mutex) end
   function shm.unlock() ffi.C.pthread_mutex_unlock(shm.mutex) end
   return shm
end

-- ---------------------------------------------------------------------------
-- Option resolution.
--
-- sysbench 1.0.20 reads --config-file before the script has registered its
-- own options, so script options (warehouses=, scale=, ...) written in the
-- config file are silently ignored and the defaults are used.  We re-read
-- the config file ourselves (path taken from /proc/self/cmdline) and apply
-- its values for every script option that was NOT given explicitly on the
-- command line.  Precedence: command line > config file > default.
-- ---------------------------------------------------------------------------
local function read_cmdline()
   local f = io.open("/proc/self/cmdline", "rb")
   if not f then return {} end
   local s = f:read("*a") or ""
   f:close()
   local args = {}
   for a in s:gmatch("([^%z]*)%z") do args[#args + 1] = a end
   return args
end

local function to_bool(v)
   v = v:lower()
   return v == "on" or v == "true" or v == "yes" or v == "1"
end

-- Value syntax of sysbench's config file: a value starting with ' or " runs
-- to the matching quote; otherwise a trailing " #comment" is dropped.
local function cfg_value(v)
   local q = v:sub(1, 1)
   if q == '"' or q == "'" then
      local e = v:find(q, 2, true)
      return e and v:sub(2, e - 1) or v:sub(2)
   end
   return (v:gsub("%s+#.*$", ""))
end

function M.resolve_options(defs)
   local opt = sysbench.opt
   if opt == nil or rawget(opt, "__dbp_resolved") then return opt end
   local given, cfgfile = {}, nil
   for _, a in ipairs(read_cmdline()) do
      local k, v = a:match("^%-%-([%w_%-]+)=(.*)$")
      if k then
         k = k:gsub("%-", "_")
         given[k] = v
         if k == "config_file" then cfgfile = v end
      end
   end
   if cfgfile then
      local f = io.open(cfgfile, "r")
      if f then
         for line in f:lines() do
            local k, v = line:match("^%s*([%w_%-]+)%s*=%s*(.-)%s*$")
            if v then v = cfg_value(v) end
            if k and not line:match("^%s*#") then
               k = k:gsub("%-", "_")
               local def = defs[k]
               if def ~= nil and given[k] == nil then
                  local d = def[2]
                  if type(d) == "number" then
                     local n = tonumber(v)
                     if n == nil then
                        error(string.format("invalid numeric value '%s' for " ..
                                               "option %s in %s", v, k, cfgfile))
                     end
                     opt[k] = n
                  elseif type(d) == "boolean" then
                     opt[k] = to_bool(v)
                  else
                     opt[k] = v
                  end
               end
            end
         end
         f:close()
      end
   end
   opt.__dbp_resolved = true
   return opt
end

-- ---------------------------------------------------------------------------
-- Error classification (see docs/workloads-lua.md, "Errors")
-- ---------------------------------------------------------------------------
-- Transaction-level errors: roll back, count, retry the event.
M.RETRYABLE = {
   [1205] = true, -- ER_LOCK_WAIT_TIMEOUT
   [1213] = true, -- ER_LOCK_DEADLOCK (also Galera certification failure)
   [1020] = true, -- ER_CHECKREAD (record changed since last read)
   [1180] = true, -- ER_ERROR_DURING_COMMIT
   [1181] = true, -- ER_ERROR_DURING_ROLLBACK
   [1047] = true, -- ER_UNKNOWN_COM_ERROR (Galera: WSREP not ready yet)
}
-- Connection-level errors: open a NEW connection, count a reconnect,
-- retry the event.  We never use sysbench's own reconnect
-- (sql_connection:reconnect() or --mysql-ignore-errors=2013,...): in
-- sysbench 1.0.20 it re-uses a MYSQL handle after mysql_close() and
-- crashes with libmariadb (sysbench issue #527).
M.CONN_ERRORS = {
   [2002] = true, [2003] = true, [2006] = true, [2013] = true,
   [2055] = true, [1053] = true, [1927] = true, [1077] = true,
   [4031] = true, -- MariaDB: disconnected by the server (inactivity)
}

-- Install sysbench.hooks.sql_error_ignorable: the listed errors are turned
-- into sysbench "restart event" errors (a table with errcode =
-- sysbench.error.RESTART_EVENT and sql_errno) that the scripts catch.
function M.install_error_hook()
   sysbench.hooks.sql_error_ignorable = function(err)
      local e = tonumber(err.sql_errno) or 0
      return M.RETRYABLE[e] or M.CONN_ERRORS[e] or false
   end
end

function M.conn_lost(err)
   return type(err) == "table" and
      M.CONN_ERRORS[tonumber(err.sql_errno) or 0] or false
end

-- Replace a lost connection by a fresh one.  Retries (0.1 s, 0.2 s,
-- 0.4 s, 0.8 s, then every 1 s) until it succeeds or, if deadline
-- (monotonic seconds) is given, until the deadline passes.  Returns the
-- new connection or nil.  Every failed attempt makes sysbench print two
-- "FATAL: unable to connect ..." / "FATAL: error 2002 ..." lines.
function M.new_connection(drv, old, deadline)
   if old ~= nil then pcall(old.disconnect, old) end
   local pause = 0.1
   while true do
      local ok, c = pcall(drv.connect, drv)
      if ok and c ~= nil then return c end
      if deadline and M.now() > deadline then return nil end
      M.sleep(pause)
      pause = math.min(1, pause * 2)
   end
end

function M.sleep(sec) ffi.C.usleep(math.floor(sec * 1e6)) end

function M.is_restart(err)
   return type(err) == "table" and err.errcode == sysbench.error.RESTART_EVENT
end

function M.errstr(err)
   if type(err) == "table" then
      local q = tostring(err.query)
      if #q > 200 then q = q:sub(1, 200) .. "..." end
      return string.format("errno %s: %s (query: %s)", tostring(err.sql_errno),
                           tostring(err.sql_errmsg), q)
   end
   return tostring(err)
end

-- sysbench's standard interval line, byte-for-byte as printed by the C
-- reporter (db_report_intermediate).  NB: sysbench.report_default() in
-- 1.0.20 prints "err/s" WITHOUT the colon, so we do not use it.
function M.standard_line(stat, extra_reconnects)
   local s = stat.time_interval
   return string.format("[ %.0fs ] thds: %u tps: %4.2f qps: %4.2f " ..
                           "(r/w/o: %4.2f/%4.2f/%4.2f) lat (ms,%u%%): %4.2f " ..
                           "err/s: %4.2f reconn/s: %4.2f",
                        stat.time_total, stat.threads_running,
                        stat.events / s,
                        (stat.reads + stat.writes + stat.other) / s,
                        stat.reads / s, stat.writes / s, stat.other / s,
                        sysbench.opt.percentile, stat.latency_pct * 1000,
                        stat.errors / s,
                        (stat.reconnects + (extra_reconnects or 0)) / s)
end

function M.out(line)
   io.stdout:write(line .. "\n")
   io.stdout:flush()
end

function M.esc(s)
   return (s:gsub("\\", "\\\\"):gsub("'", "\\'"))
end

-- ---------------------------------------------------------------------------
-- TPC-C constants and random helpers
-- ---------------------------------------------------------------------------
M.TABLES = { "warehouse", "district", "customer", "history", "new_orders",
             "orders", "order_line", "item", "stock" }

M.ITEMS = 100000
M.DIST_PER_WH = 10
M.CUST_PER_DIST = 3000
M.ORD_PER_DIST = 3000
M.STOCK_PER_WH = 100000
M.FIRST_NEW_ORDER = 2101 -- orders 2101..3000 are undelivered (new_orders)

-- NURand constants (clause 2.1.6).  C_LAST_RUN - C_LAST_LOAD = 66, which
-- satisfies 65 <= |delta| <= 119, delta not in {96, 112} (clause 2.1.6.1).
M.C_LAST_LOAD = 157
M.C_LAST_RUN = 223
M.C_ID = 259
M.C_OL_I_ID = 7911

local SYL = { "BAR", "OUGHT", "ABLE", "PRI", "PRES", "ESE", "ANTI", "CALLY",
              "ATION", "EING" }

function M.last_name(n)
   return SYL[math.floor(n / 100) + 1] .. SYL[math.floor(n / 10) % 10 + 1] ..
      SYL[n % 10 + 1]
end

-- NURand(A, x, y) with a given uniform generator rnd(lo, hi)
function M.nurand(rnd, A, x, y, C)
   return (bit.bor(rnd(0, A), rnd(x, y)) + C) % (y - x + 1) + x
end

-- ---------------------------------------------------------------------------
-- Schema
-- ---------------------------------------------------------------------------
function M.ddl(engine, use_fk)
   local e = " ENGINE=" .. engine
   local fk = function(s) return use_fk and (",\n  " .. s) or "" end
   return {
      warehouse = [[
CREATE TABLE IF NOT EXISTS warehouse (
  w_id INT NOT NULL,
  w_name VARCHAR(10),
  w_street_1 VARCHAR(20),
  w_street_2 VARCHAR(20),
  w_city VARCHAR(20),
  w_state CHAR(2),
  w_zip CHAR(9),
  w_tax DECIMAL(4,4),
  w_ytd DECIMAL(12,2),
  PRIMARY KEY (w_id))]] .. e,
      district = [[
CREATE TABLE IF NOT EXISTS district (
  d_id TINYINT NOT NULL,
  d_w_id INT NOT NULL,
  d_name VARCHAR(10),
  d_street_1 VARCHAR(20),
  d_street_2 VARCHAR(20),
  d_city VARCHAR(20),
  d_state CHAR(2),
  d_zip CHAR(9),
  d_tax DECIMAL(4,4),
  d_ytd DECIMAL(12,2),
  d_next_o_id INT,
  PRIMARY KEY (d_w_id, d_id)]] ..
         fk("CONSTRAINT fkey_district_1 FOREIGN KEY (d_w_id) REFERENCES warehouse (w_id)") ..
         ")" .. e,
      customer = [[
CREATE TABLE IF NOT EXISTS customer (
  c_id INT NOT NULL,
  c_d_id TINYINT NOT NULL,
  c_w_id INT NOT NULL,
  c_first VARCHAR(16),
  c_middle CHAR(2),
  c_last VARCHAR(16),
  c_street_1 VARCHAR(20),
  c_street_2 VARCHAR(20),
  c_city VARCHAR(20),
  c_state CHAR(2),
  c_zip CHAR(9),
  c_phone CHAR(16),
  c_since DATETIME,
  c_credit CHAR(2),
  c_credit_lim DECIMAL(12,2),
  c_discount DECIMAL(4,4),
  c_balance DECIMAL(12,2),
  c_ytd_payment DECIMAL(12,2),
  c_payment_cnt SMALLINT,
  c_delivery_cnt SMALLINT,
  c_data VARCHAR(500),
  PRIMARY KEY (c_w_id, c_d_id, c_id),
  KEY idx_customer (c_w_id, c_d_id, c_last, c_first)]] ..
         fk("CONSTRAINT fkey_customer_1 FOREIGN KEY (c_w_id, c_d_id) REFERENCES district (d_w_id, d_id)") ..
         ")" .. e,
      -- The spec's HISTORY table has no primary key; we add a surrogate
      -- AUTO_INCREMENT key because Galera (and sql_require_primary_key)
      -- need one.  It is not used by any transaction.
      history = [[
CREATE TABLE IF NOT EXISTS history (
  h_id BIGINT NOT NULL AUTO_INCREMENT,
  h_c_id INT,
  h_c_d_id TINYINT,
  h_c_w_id INT,
  h_d_id TINYINT,
  h_w_id INT,
  h_date DATETIME,
  h_amount DECIMAL(6,2),
  h_data VARCHAR(24),
  PRIMARY KEY (h_id)]] ..
         fk("KEY fkey_history_1 (h_c_w_id, h_c_d_id, h_c_id)") ..
         fk("KEY fkey_history_2 (h_w_id, h_d_id)") ..
         fk("CONSTRAINT fkey_history_1 FOREIGN KEY (h_c_w_id, h_c_d_id, h_c_id) REFERENCES customer (c_w_id, c_d_id, c_id)") ..
         fk("CONSTRAINT fkey_history_2 FOREIGN KEY (h_w_id, h_d_id) REFERENCES district (d_w_id, d_id)") ..
         ")" .. e,
      new_orders = [[
CREATE TABLE IF NOT EXISTS new_orders (
  no_o_id INT NOT NULL,
  no_d_id TINYINT NOT NULL,
  no_w_id INT NOT NULL,
  PRIMARY KEY (no_w_id, no_d_id, no_o_id)]] ..
         fk("CONSTRAINT fkey_new_orders_1 FOREIGN KEY (no_w_id, no_d_id, no_o_id) REFERENCES orders (o_w_id, o_d_id, o_id)") ..
         ")" .. e,
      orders = [[
CREATE TABLE IF NOT EXISTS orders (
  o_id INT NOT NULL,
  o_d_id TINYINT NOT NULL,
  o_w_id INT NOT NULL,
  o_c_id INT,
  o_entry_d DATETIME,
  o_carrier_id TINYINT,
  o_ol_cnt TINYINT,
  o_all_local TINYINT,
  PRIMARY KEY (o_w_id, o_d_id, o_id),
  KEY idx_orders (o_w_id, o_d_id, o_c_id, o_id)]] ..
         fk("CONSTRAINT fkey_orders_1 FOREIGN KEY (o_w_id, o_d_id, o_c_id) REFERENCES customer (c_w_id, c_d_id, c_id)") ..
         ")" .. e,
      order_line = [[
CREATE TABLE IF NOT EXISTS order_line (
  ol_o_id INT NOT NULL,
  ol_d_id TINYINT NOT NULL,
  ol_w_id INT NOT NULL,
  ol_number TINYINT NOT NULL,
  ol_i_id INT,
  ol_supply_w_id INT,
  ol_delivery_d DATETIME,
  ol_quantity TINYINT,
  ol_amount DECIMAL(6,2),
  ol_dist_info CHAR(24),
  PRIMARY KEY (ol_w_id, ol_d_id, ol_o_id, ol_number),
  KEY fkey_order_line_2 (ol_supply_w_id, ol_i_id)]] ..
         fk("CONSTRAINT fkey_order_line_1 FOREIGN KEY (ol_w_id, ol_d_id, ol_o_id) REFERENCES orders (o_w_id, o_d_id, o_id)") ..
         fk("CONSTRAINT fkey_order_line_2 FOREIGN KEY (ol_supply_w_id, ol_i_id) REFERENCES stock (s_w_id, s_i_id)") ..
         ")" .. e,
      item = [[
CREATE TABLE IF NOT EXISTS item (
  i_id INT NOT NULL,
  i_im_id INT,
  i_name VARCHAR(24),
  i_price DECIMAL(5,2),
  i_data VARCHAR(50),
  PRIMARY KEY (i_id))]] .. e,
      stock = [[
CREATE TABLE IF NOT EXISTS stock (
  s_i_id INT NOT NULL,
  s_w_id INT NOT NULL,
  s_quantity SMALLINT,
  s_dist_01 CHAR(24),
  s_dist_02 CHAR(24),
  s_dist_03 CHAR(24),
  s_dist_04 CHAR(24),
  s_dist_05 CHAR(24),
  s_dist_06 CHAR(24),
  s_dist_07 CHAR(24),
  s_dist_08 CHAR(24),
  s_dist_09 CHAR(24),
  s_dist_10 CHAR(24),
  s_ytd DECIMAL(8,0),
  s_order_cnt SMALLINT,
  s_remote_cnt SMALLINT,
  s_data VARCHAR(50),
  PRIMARY KEY (s_w_id, s_i_id),
  KEY fkey_stock_2 (s_i_id)]] ..
         fk("CONSTRAINT fkey_stock_1 FOREIGN KEY (s_w_id) REFERENCES warehouse (w_id)") ..
         fk("CONSTRAINT fkey_stock_2 FOREIGN KEY (s_i_id) REFERENCES item (i_id)") ..
         ")" .. e,
   }
end

-- ---------------------------------------------------------------------------
-- Data generation (clause 4.3.3.1).  Each load unit seeds LuaJIT's own PRNG
-- (math.random, a Tausworthe generator, deterministic for a given seed)
-- from the unit's identity, so the data does not depend on --threads.
-- ---------------------------------------------------------------------------
local floor, rnd = math.floor, math.random
local concat = table.concat
local fmt = string.format

local ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
local pool, POOL_LEN

local function make_pool()
   local t = {}
   POOL_LEN = 65536
   for i = 1, POOL_LEN do
      local k = rnd(1, #ALNUM)
      t[i] = ALNUM:sub(k, k)
   end
   pool = concat(t)
end

-- random a-string of length in [lo, hi] (alphanumeric)
local function astr(lo, hi)
   local n = (lo == hi) and lo or rnd(lo, hi)
   local o = rnd(1, POOL_LEN - n)
   return pool:sub(o, o + n - 1)
end

-- random n-string (digits)
local function nstr(n)
   local t = {}
   for i = 1, n do t[i] = string.char(48 + rnd(0, 9)) end
   return concat(t)
end

local function zip() return nstr(4) .. "11111" end
local function state2()
   return string.char(65 + rnd(0, 25), 65 + rnd(0, 25))
end

-- 10% of i_data / s_data contain "ORIGINAL" at a random position
local function data_original(lo, hi)
   local s = astr(lo, hi)
   if rnd(1, 10) == 1 then
      local p = rnd(1, #s - 8 + 1)
      s = s:sub(1, p - 1) .. "ORIGINAL" .. s:sub(p + 8)
   end
   return s
end

local function seed_unit(a, b, c)
   math.randomseed(((a * 1000003 + b) * 1009 + c) % 2147483647 + 1)
   make_pool()
end

-- Multi-row INSERT batcher: one statement (= one autocommit transaction)
-- per batch.
local Batch = {}
Batch.__index = Batch

local function batch(con, head, max_rows)
   return setmetatable({ con = con, head = head, max = max_rows, rows = {},
                         n = 0 }, Batch)
end

function Batch:add(row)
   self.n = self.n + 1
   self.rows[self.n] = row
   if self.n >= self.max then self:flush() end
end

function Batch:flush()
   if self.n == 0 then return end
   self.con:query(self.head .. concat(self.rows, ",", 1, self.n))
   self.rows = {}
   self.n = 0
end

function M.load_item(con)
   seed_unit(1, 0, 0)
   local b = batch(con, "INSERT INTO item (i_id, i_im_id, i_name, i_price, " ..
                      "i_data) VALUES ", 2000)
   for i = 1, M.ITEMS do
      b:add(fmt("(%d,%d,'%s',%.2f,'%s')", i, rnd(1, 10000), astr(14, 24),
                rnd(100, 10000) / 100, data_original(26, 50)))
   end
   b:flush()
end

function M.load_warehouse(con, w)
   seed_unit(2, w, 0)
   con:query(fmt("INSERT INTO warehouse (w_id, w_name, w_street_1, " ..
                    "w_street_2, w_city, w_state, w_zip, w_tax, w_ytd) " ..
                    "VALUES (%d,'%s','%s','%s','%s','%s','%s',%.4f,300000.00)",
                 w, astr(6, 10), astr(10, 20), astr(10, 20), astr(10, 20),
                 state2(), zip(), rnd(0, 2000) / 10000))
   local rows = {}
   for d = 1, M.DIST_PER_WH do
      rows[d] = fmt("(%d,%d,'%s','%s','%s','%s','%s','%s',%.4f,30000.00,%d)",
                    d, w, astr(6, 10), astr(10, 20), astr(10, 20),
                    astr(10, 20), state2(), zip(), rnd(0, 2000) / 10000,
                    M.ORD_PER_DIST + 1)
   end
   con:query("INSERT INTO district (d_id, d_w_id, d_name, d_street_1, " ..
                "d_street_2, d_city, d_state, d_zip, d_tax, d_ytd, " ..
                "d_next_o_id) VALUES " .. concat(rows, ","))
end

function M.load_stock(con, w)
   seed_unit(3, w, 0)
   local b = batch(con, "INSERT INTO stock (s_i_id, s_w_id, s_quantity, " ..
                      "s_dist_01, s_dist_02, s_dist_03, s_dist_04, " ..
                      "s_dist_05, s_dist_06, s_dist_07, s_dist_08, " ..
                      "s_dist_09, s_dist_10, s_ytd, s_order_cnt, " ..
                      "s_remote_cnt, s_data) VALUES ", 1000)
   for i = 1, M.STOCK_PER_WH do
      b:add(fmt("(%d,%d,%d,'%s','%s','%s','%s','%s','%s','%s','%s','%s'," ..
                   "'%s',0,0,0,'%s')", i, w, rnd(10, 100),
                astr(24, 24), astr(24, 24), astr(24, 24), astr(24, 24),
                astr(24, 24), astr(24, 24), astr(24, 24), astr(24, 24),
                astr(24, 24), astr(24, 24), data_original(26, 50)))
   end
   b:flush()
end

-- CUSTOMER + HISTORY for one district
function M.load_customer(con, w, d, now)
   seed_unit(4, w, d)
   local bc = batch(con, "INSERT INTO customer (c_id, c_d_id, c_w_id, " ..
                       "c_first, c_middle, c_last, c_street_1, c_street_2, " ..
                       "c_city, c_state, c_zip, c_phone, c_since, c_credit, " ..
                       "c_credit_lim, c_discount, c_balance, c_ytd_payment, " ..
                       "c_payment_cnt, c_delivery_cnt, c_data) VALUES ", 500)
   local bh = batch(con, "INSERT INTO history (h_c_id, h_c_d_id, h_c_w_id, " ..
                       "h_d_id, h_w_id, h_date, h_amount, h_data) VALUES ",
                    3000)
   for c = 1, M.CUST_PER_DIST do
      local last
      if c <= 1000 then
         last = M.last_name(c - 1)
      else
         last = M.last_name(M.nurand(rnd, 255, 0, 999, M.C_LAST_LOAD))
      end
      bc:add(fmt("(%d,%d,%d,'%s','OE','%s','%s','%s','%s','%s','%s','%s'," ..
                    "'%s','%s',50000.00,%.4f,-10.00,10.00,1,0,'%s')",
                 c, d, w, astr(8, 16), last, astr(10, 20), astr(10, 20),
                 astr(10, 20), state2(), zip(), nstr(16), now,
                 (rnd(1, 10) == 1) and "BC" or "GC", rnd(0, 5000) / 10000,
                 astr(300, 500)))
      bh:add(fmt("(%d,%d,%d,%d,%d,'%s',10.00,'%s')", c, d, w, d, w, now,
                 astr(12, 24)))
   end
   bc:flush()
   bh:flush()
end

-- ORDERS + ORDER_LINE + NEW_ORDERS for one district
function M.load_orders(con, w, d, now)
   seed_unit(5, w, d)
   -- random permutation of customer ids
   local perm = {}
   for i = 1, M.CUST_PER_DIST do perm[i] = i end
   for i = M.CUST_PER_DIST, 2, -1 do
      local j = rnd(1, i)
      perm[i], perm[j] = perm[j], perm[i]
   end
   local bo = batch(con, "INSERT INTO orders (o_id, o_d_id, o_w_id, o_c_id, " ..
                       "o_entry_d, o_carrier_id, o_ol_cnt, o_all_local) " ..
                       "VALUES ", 3000)
   local bl = batch(con, "INSERT INTO order_line (ol_o_id, ol_d_id, ol_w_id, " ..
                       "ol_number, ol_i_id, ol_supply_w_id, ol_delivery_d, " ..
                       "ol_quantity, ol_amount, ol_dist_info) VALUES ", 5000)
   local bn = batch(con, "INSERT INTO new_orders (no_o_id, no_d_id, no_w_id) " ..
                       "VALUES ", 5000)
   for o = 1, M.ORD_PER_DIST do
      local delivered = o < M.FIRST_NEW_ORDER
      local cnt = rnd(5, 15)
      bo:add(fmt("(%d,%d,%d,%d,'%s',%s,%d,1)", o, d, w, perm[o], now,
                 delivered and tostring(rnd(1, 10)) or "NULL", cnt))
      for l = 1, cnt do
         if delivered then
            bl:add(fmt("(%d,%d,%d,%d,%d,%d,'%s',5,0.00,'%s')", o, d, w, l,
                       rnd(1, M.ITEMS), w, now, astr(24, 24)))
         else
            bl:add(fmt("(%d,%d,%d,%d,%d,%d,NULL,5,%.2f,'%s')", o, d, w, l,
                       rnd(1, M.ITEMS), w, rnd(1, 999999) / 100,
                       astr(24, 24)))
         end
      end
      if not delivered then
         bn:add(fmt("(%d,%d,%d)", o, d, w))
      end
   end
   bo:flush()
   bl:flush()
   bn:flush()
end

-- Load units: 1 = ITEM; per warehouse w: WAREHOUSE+DISTRICT, STOCK, then
-- per district CUSTOMER+HISTORY and ORDERS+ORDER_LINE+NEW_ORDERS.
function M.units(warehouses)
   local u = { { "item" } }
   for w = 1, warehouses do
      u[#u + 1] = { "stock", w }
      u[#u + 1] = { "warehouse", w }
      for d = 1, M.DIST_PER_WH do
         u[#u + 1] = { "customer", w, d }
         u[#u + 1] = { "orders", w, d }
      end
   end
   return u
end

function M.run_unit(con, u, now)
   local k = u[1]
   if k == "item" then M.load_item(con)
   elseif k == "warehouse" then M.load_warehouse(con, u[2])
   elseif k == "stock" then M.load_stock(con, u[2])
   elseif k == "customer" then M.load_customer(con, u[2], u[3], now)
   elseif k == "orders" then M.load_orders(con, u[2], u[3], now)
   end
end

return M
