#!/usr/bin/env sysbench
-- tpcc.lua -- TPC-C-like workload for sysbench 1.0.20 (MySQL / MariaDB)
--
-- Part of dbpecker.  Usage:
--   sysbench --config-file=<0600 file> scripts/lua/tpcc.lua prepare
--   sysbench --config-file=<file> scripts/lua/tpcc.lua check
--   sysbench --config-file=<file> --time=60 --report-interval=10 \
--            scripts/lua/tpcc.lua run
--   sysbench --config-file=<file> scripts/lua/tpcc.lua cleanup
--
-- Output formats, options and caveats: docs/workloads-lua.md.

-- Make require() find tpcc_common.lua next to this script, whatever the cwd.
do
   local path = (sysbench.cmdline and sysbench.cmdline.script_path) or
      (sysbench.test and sysbench.test.path) or ""
   local dir = path:match("^(.*)/[^/]*$") or "."
   package.path = dir .. "/?.lua;" .. package.path
end

local C = require("tpcc_common")
local fmt = string.format

sysbench.cmdline.options = {
   warehouses = { "Number of warehouses (TPC-C scale)", 1 },
   mysql_storage_engine = { "Storage engine for the TPC-C tables", "innodb" },
   use_fk = { "Create the spec's foreign keys", false },
}

local function opts()
   return C.resolve_options(sysbench.cmdline.options)
end

local shm = C.shm_attach("tpcc")
local glob = shm.glob

-- Per-thread counter slots (doubles)
local S_DONE = 0       -- 0..4: completed transactions per type
local S_ROLLBACK = 5   -- New-Order business rollbacks (1%)
local S_FAILED = 6     -- 6..10: failed (rolled back on error) per type
local S_RECONN = 11    -- reconnects performed by our error hook
local S_T_START = 12   -- thread start time (monotonic seconds)
local S_T_END = 13     -- thread end time
local S_ERRORS = 14    -- total failed transactions

local TXN_NAMES = { "NewOrder", "Payment", "OrderStatus", "Delivery",
                    "StockLevel" }

local function fail(msg)
   io.stdout:flush()
   io.stderr:write("FATAL: ", msg, "\n")
   io.stderr:flush()
   os.exit(1)
end

-- ---------------------------------------------------------------------------
-- prepare (parallel): each thread loads a share of the load units
-- ---------------------------------------------------------------------------
local function create_schema(con, o)
   local list = {}
   for _, t in ipairs(C.TABLES) do list[#list + 1] = "'" .. t .. "'" end
   local n = tonumber(con:query_row(
                         "SELECT COUNT(*) FROM information_schema.tables " ..
                            "WHERE table_schema = DATABASE() AND table_name IN (" ..
                            table.concat(list, ",") .. ")"))
   if n > 0 then
      error(fmt("%d TPC-C table(s) already exist in this database; run " ..
                   "'cleanup' first", n), 0)
   end
   local ddl = C.ddl(o.mysql_storage_engine, o.use_fk)
   for _, t in ipairs(C.TABLES) do
      con:query(ddl[t])
   end
end

local function cmd_prepare()
   local o = opts()
   local W = o.warehouses
   if W < 1 or W ~= math.floor(W) then fail("warehouses must be an integer >= 1") end
   local tid, threads = sysbench.tid, o.threads
   local drv = sysbench.sql.driver()
   local con = drv:connect()
   con:query("SET SESSION foreign_key_checks = 0")

   -- The first thread to get the mutex creates the schema; glob[0] records
   -- the outcome (1 = ok, 2 = failed) for the others.
   shm.lock()
   if glob[0] == 0 then
      glob[2] = C.now()
      print(fmt("Creating TPC-C tables (engine %s, foreign keys %s)...",
                o.mysql_storage_engine, o.use_fk and "on" or "off"))
      local ok, err = pcall(create_schema, con, o)
      glob[0] = ok and 1 or 2
      if not ok then
         shm.unlock()
         fail("prepare: " .. C.errstr(err))
      end
   end
   local st = glob[0]
   shm.unlock()
   if st ~= 1 then fail("prepare: schema creation failed in another thread") end

   local now = os.date("%Y-%m-%d %H:%M:%S")
   local units = C.units(W)
   for i, u in ipairs(units) do
      if (i - 1) % threads == tid then
         if u[1] ~= "customer" and u[1] ~= "orders" then
            C.out(fmt("Thread %d: loading %s%s", tid, u[1],
                      u[2] and (" for warehouse " .. u[2]) or ""))
         end
         local ok, err = pcall(C.run_unit, con, u, now)
         if not ok then fail("prepare: " .. C.errstr(err)) end
      end
   end

   -- The last thread to finish analyzes the tables and prints the summary.
   shm.lock()
   glob[1] = glob[1] + 1
   local last = (glob[1] == threads)
   shm.unlock()
   if last then
      for _, t in ipairs(C.TABLES) do
         local ok, err = pcall(con.query, con, "ANALYZE TABLE " .. t)
         if not ok then fail("prepare: " .. C.errstr(err)) end
      end
      C.out(fmt("Prepare done: warehouses: %d seconds: %.1f", W,
                C.now() - glob[2]))
   end
   con:disconnect()
end

-- ---------------------------------------------------------------------------
-- cleanup: drop the tables (not the database)
-- ---------------------------------------------------------------------------
local function cmd_cleanup()
   local drv = sysbench.sql.driver()
   local con = drv:connect()
   con:query("SET SESSION foreign_key_checks = 0")
   for _, t in ipairs(C.TABLES) do
      print("Dropping table '" .. t .. "'...")
      con:query("DROP TABLE IF EXISTS " .. t)
   end
   con:disconnect()
end

-- ---------------------------------------------------------------------------
-- check: cardinalities and consistency conditions 1-4 (clause 3.3.2)
-- ---------------------------------------------------------------------------
local function cmd_check()
   local o = opts()
   local W = o.warehouses
   local drv = sysbench.sql.driver()
   local con = drv:connect()
   local good = true
   local function num(q) return tonumber(con:query_row(q)) or 0 end

   local ok, err = pcall(function()
      con:query("START TRANSACTION WITH CONSISTENT SNAPSHOT")
      local cnt = {}
      for _, t in ipairs(C.TABLES) do
         cnt[t] = num("SELECT COUNT(*) FROM " .. t)
      end
      local fresh = cnt.orders == C.ORD_PER_DIST * C.DIST_PER_WH * W
      local exp = {
         warehouse = { W, "exact" },
         district = { C.DIST_PER_WH * W, "exact" },
         customer = { C.CUST_PER_DIST * C.DIST_PER_WH * W, "exact" },
         item = { C.ITEMS, "exact" },
         stock = { C.STOCK_PER_WH * W, "exact" },
         orders = { C.ORD_PER_DIST * C.DIST_PER_WH * W, "min" },
         history = { C.CUST_PER_DIST * C.DIST_PER_WH * W,
                     fresh and "exact" or "min" },
         new_orders = { (C.ORD_PER_DIST - C.FIRST_NEW_ORDER + 1) *
                           C.DIST_PER_WH * W, fresh and "exact" or "any" },
         order_line = { 5 * C.ORD_PER_DIST * C.DIST_PER_WH * W, "min" },
      }
      for _, t in ipairs(C.TABLES) do
         local e, tol = exp[t][1], exp[t][2]
         local n = cnt[t]
         local pass = (tol == "exact" and n == e) or (tol == "min" and n >= e)
            or tol == "any"
         good = good and pass
         C.out(fmt("Table %s rows: %d expected: %d tolerance: %s status: %s",
                   t, n, e, tol, pass and "OK" or "FAIL"))
      end
      local conds = {
         { 1, "W_YTD = sum(D_YTD)",
           "SELECT COUNT(*) FROM warehouse w JOIN (SELECT d_w_id, " ..
              "SUM(d_ytd) s FROM district GROUP BY d_w_id) d " ..
              "ON d.d_w_id = w.w_id WHERE w.w_ytd <> d.s" },
         { 2, "D_NEXT_O_ID - 1 = max(O_ID) = max(NO_O_ID)",
           "SELECT COUNT(*) FROM district d JOIN (SELECT o_w_id, o_d_id, " ..
              "MAX(o_id) m FROM orders GROUP BY o_w_id, o_d_id) o " ..
              "ON o.o_w_id = d.d_w_id AND o.o_d_id = d.d_id " ..
              "LEFT JOIN (SELECT no_w_id, no_d_id, MAX(no_o_id) m " ..
              "FROM new_orders GROUP BY no_w_id, no_d_id) n " ..
              "ON n.no_w_id = d.d_w_id AND n.no_d_id = d.d_id " ..
              "WHERE d.d_next_o_id - 1 <> o.m OR (n.m IS NOT NULL AND n.m <> o.m)" },
         { 3, "max(NO_O_ID) - min(NO_O_ID) + 1 = count(NEW_ORDERS)",
           "SELECT COUNT(*) FROM (SELECT MAX(no_o_id) - MIN(no_o_id) + 1 " ..
              "- COUNT(*) diff FROM new_orders GROUP BY no_w_id, no_d_id) x " ..
              "WHERE diff <> 0" },
         { 4, "sum(O_OL_CNT) = count(ORDER_LINE)",
           "SELECT COUNT(*) FROM (SELECT o_w_id, o_d_id, SUM(o_ol_cnt) s " ..
              "FROM orders GROUP BY o_w_id, o_d_id) o LEFT JOIN " ..
              "(SELECT ol_w_id, ol_d_id, COUNT(*) c FROM order_line " ..
              "GROUP BY ol_w_id, ol_d_id) l ON l.ol_w_id = o.o_w_id AND " ..
              "l.ol_d_id = o.o_d_id WHERE l.c IS NULL OR l.c <> o.s" },
      }
      for _, c in ipairs(conds) do
         local v = num(c[3])
         good = good and v == 0
         C.out(fmt("Consistency %d violations: %d status: %s (%s)", c[1], v,
                   v == 0 and "OK" or "FAIL", c[2]))
      end
      con:query("COMMIT")
   end)
   if not ok then
      C.out("Check error: " .. C.errstr(err))
      good = false
   end
   C.out("Check: " .. (good and "PASSED" or "FAILED"))
   con:disconnect()
   return good
end

sysbench.cmdline.commands = {
   prepare = { cmd_prepare, sysbench.cmdline.PARALLEL_COMMAND },
   cleanup = { cmd_cleanup },
   check = { cmd_check },
}

-- ---------------------------------------------------------------------------
-- run
-- ---------------------------------------------------------------------------
local drv, con, slot, W
local R = sysbench.rand.uniform
local nurand = C.nurand
local query_row

C.install_error_hook()

function init()
   local o = opts()
   if o.warehouses < 1 or o.warehouses ~= math.floor(o.warehouses) then
      fail("--warehouses must be an integer >= 1")
   end
   if o.threads > C.MAX_SLOTS then
      fail(fmt("at most %d threads are supported", C.MAX_SLOTS))
   end
   -- sanity: the database must hold at least --warehouses warehouses
   local drv = sysbench.sql.driver()
   local c = drv:connect()
   local ok, n = pcall(c.query_row, c, "SELECT COUNT(*) FROM warehouse")
   c:disconnect()
   if not ok then
      fail("cannot read table warehouse (did you run 'prepare'?): " ..
              C.errstr(n))
   end
   if (tonumber(n) or 0) < o.warehouses then
      fail(fmt("--warehouses=%d but the database holds %s warehouse(s)",
               o.warehouses, tostring(n)))
   end
end

function thread_init()
   local o = opts()
   W = o.warehouses
   drv = sysbench.sql.driver()
   con = drv:connect()
   query_row = function(q) return con:query_row(q) end
   slot = shm.slot(sysbench.tid)
   slot[S_T_START] = C.now()
end

function thread_done()
   if slot then slot[S_T_END] = C.now() end
   if con then pcall(con.disconnect, con) end
end

local function other_wh(w)
   local x
   repeat x = R(1, W) until x ~= w
   return x
end

-- Select a customer by last name: the row at position ceil(n/2) of the
-- rows sorted by c_first (clause 2.5.2.2).  Returns c_id or nil.
local function customer_by_name(w, d, last, cols)
   local rs = con:query(fmt("SELECT c_id%s FROM customer WHERE c_w_id = %d " ..
                               "AND c_d_id = %d AND c_last = '%s' " ..
                               "ORDER BY c_first", cols or "", w, d, last))
   if rs == nil or rs.nrows == 0 then return nil end
   local pos = math.ceil(rs.nrows / 2)
   local row
   for _ = 1, pos do row = rs:fetch_row() end
   return tonumber(row[1]), row
end

-- New-Order (clause 2.4)
local function new_order(w)
   local d = R(1, 10)
   local c = nurand(R, 1023, 1, 3000, C.C_ID)
   local ol_cnt = R(5, 15)
   local rbk = R(1, 100)
   local items = {}
   local all_local = 1
   for i = 1, ol_cnt do
      local iid = nurand(R, 8191, 1, C.ITEMS, C.C_OL_I_ID)
      local invalid = (i == ol_cnt and rbk == 1)
      if invalid then iid = C.ITEMS + 1 end -- unused item number
      local sw = w
      if W > 1 and R(1, 100) == 1 then
         sw = other_wh(w)
         all_local = 0
      end
      items[i] = { iid, sw, R(1, 10), invalid }
   end
   -- Access stock rows in a fixed order to limit deadlocks; the invalid
   -- item (if any) stays last.
   table.sort(items, function(a, b)
      if a[4] ~= b[4] then return b[4] end
      if a[2] ~= b[2] then return a[2] < b[2] end
      return a[1] < b[1]
   end)

   con:query("BEGIN")
   local w_tax = tonumber(query_row(fmt(
      "SELECT w_tax FROM warehouse WHERE w_id = %d", w)))
   local c_discount = query_row(fmt(
      "SELECT c_discount, c_last, c_credit FROM customer WHERE c_w_id = %d " ..
         "AND c_d_id = %d AND c_id = %d", w, d, c))
   c_discount = tonumber(c_discount)
   local o_id, d_tax = query_row(fmt(
      "SELECT d_next_o_id, d_tax FROM district WHERE d_w_id = %d AND " ..
         "d_id = %d FOR UPDATE", w, d))
   o_id, d_tax = tonumber(o_id), tonumber(d_tax)
   con:query(fmt("UPDATE district SET d_next_o_id = d_next_o_id + 1 " ..
                    "WHERE d_w_id = %d AND d_id = %d", w, d))
   con:query(fmt("INSERT INTO orders (o_id, o_d_id, o_w_id, o_c_id, " ..
                    "o_entry_d, o_carrier_id, o_ol_cnt, o_all_local) " ..
                    "VALUES (%d, %d, %d, %d, NOW(), NULL, %d, %d)",
                 o_id, d, w, c, ol_cnt, all_local))
   con:query(fmt("INSERT INTO new_orders (no_o_id, no_d_id, no_w_id) " ..
                    "VALUES (%d, %d, %d)", o_id, d, w))
   local lines = {}
   local total = 0
   for n, it in ipairs(items) do
      local iid, sw, qty = it[1], it[2], it[3]
      local price = query_row(fmt(
         "SELECT i_price, i_name, i_data FROM item WHERE i_id = %d", iid))
      if price == nil then
         con:query("ROLLBACK")
         return "rollback"
      end
      price = tonumber(price)
      local s_qty, s_data, s_dist = query_row(fmt(
         "SELECT s_quantity, s_data, s_dist_%02d FROM stock WHERE " ..
            "s_i_id = %d AND s_w_id = %d FOR UPDATE", d, iid, sw))
      s_qty = tonumber(s_qty)
      if s_qty - qty >= 10 then s_qty = s_qty - qty else s_qty = s_qty - qty + 91 end
      con:query(fmt("UPDATE stock SET s_quantity = %d, s_ytd = s_ytd + %d, " ..
                       "s_order_cnt = s_order_cnt + 1, s_remote_cnt = " ..
                       "s_remote_cnt + %d WHERE s_i_id = %d AND s_w_id = %d",
                    s_qty, qty, sw ~= w and 1 or 0, iid, sw))
      local amount = qty * price
      total = total + amount
      lines[n] = fmt("(%d,%d,%d,%d,%d,%d,NULL,%d,%.2f,'%s')", o_id, d, w, n,
                     iid, sw, qty, amount, C.esc(s_dist or ""))
   end
   con:query("INSERT INTO order_line (ol_o_id, ol_d_id, ol_w_id, ol_number, " ..
                "ol_i_id, ol_supply_w_id, ol_delivery_d, ol_quantity, " ..
                "ol_amount, ol_dist_info) VALUES " .. table.concat(lines, ","))
   con:query("COMMIT")
   -- total * (1 - c_discount) * (1 + w_tax + d_tax) is the order total the
   -- terminal would display; computed for completeness only.
   local _ = total * (1 - (c_discount or 0)) * (1 + (w_tax or 0) + (d_tax or 0))
   return "ok"
end

-- Payment (clause 2.5)
local function payment(w)
   local d = R(1, 10)
   local cw, cd = w, d
   if W > 1 and R(1, 100) > 85 then
      cw = other_wh(w)
      cd = R(1, 10)
   end
   local by_name = R(1, 100) <= 60
   local amount = R(100, 500000) / 100

   con:query("BEGIN")
   con:query(fmt("UPDATE warehouse SET w_ytd = w_ytd + %.2f WHERE w_id = %d",
                 amount, w))
   local w_name = query_row(fmt(
      "SELECT w_name, w_street_1, w_street_2, w_city, w_state, w_zip " ..
         "FROM warehouse WHERE w_id = %d", w))
   con:query(fmt("UPDATE district SET d_ytd = d_ytd + %.2f WHERE " ..
                    "d_w_id = %d AND d_id = %d", amount, w, d))
   local d_name = query_row(fmt(
      "SELECT d_name, d_street_1, d_street_2, d_city, d_state, d_zip " ..
         "FROM district WHERE d_w_id = %d AND d_id = %d", w, d))
   local c
   if by_name then
      c = customer_by_name(cw, cd, C.last_name(nurand(R, 255, 0, 999,
                                                      C.C_LAST_RUN)))
      if c == nil then
         con:query("ROLLBACK")
         return "ok"
      end
   else
      c = nurand(R, 1023, 1, 3000, C.C_ID)
   end
   local credit = select(11, query_row(fmt(
      "SELECT c_first, c_middle, c_last, c_street_1, c_street_2, c_city, " ..
         "c_state, c_zip, c_phone, c_since, c_credit, c_credit_lim, " ..
         "c_discount, c_balance FROM customer WHERE c_w_id = %d AND " ..
         "c_d_id = %d AND c_id = %d FOR UPDATE", cw, cd, c)))
   if credit == "BC" then
      local c_data = query_row(fmt(
         "SELECT c_data FROM customer WHERE c_w_id = %d AND c_d_id = %d " ..
            "AND c_id = %d", cw, cd, c)) or ""
      c_data = (fmt("| %d %d %d %d %d %.2f ", c, cd, cw, d, w, amount) ..
                   c_data):sub(1, 500)
      con:query(fmt("UPDATE customer SET c_balance = c_balance - %.2f, " ..
                       "c_ytd_payment = c_ytd_payment + %.2f, " ..
                       "c_payment_cnt = c_payment_cnt + 1, c_data = '%s' " ..
                       "WHERE c_w_id = %d AND c_d_id = %d AND c_id = %d",
                    amount, amount, C.esc(c_data), cw, cd, c))
   else
      con:query(fmt("UPDATE customer SET c_balance = c_balance - %.2f, " ..
                       "c_ytd_payment = c_ytd_payment + %.2f, " ..
                       "c_payment_cnt = c_payment_cnt + 1 " ..
                       "WHERE c_w_id = %d AND c_d_id = %d AND c_id = %d",
                    amount, amount, cw, cd, c))
   end
   local h_data = ((w_name or "") .. "    " .. (d_name or "")):sub(1, 24)
   con:query(fmt("INSERT INTO history (h_c_d_id, h_c_w_id, h_c_id, h_d_id, " ..
                    "h_w_id, h_date, h_amount, h_data) VALUES " ..
                    "(%d, %d, %d, %d, %d, NOW(), %.2f, '%s')",
                 cd, cw, c, d, w, amount, C.esc(h_data)))
   con:query("COMMIT")
   return "ok"
end

-- Order-Status (clause 2.6)
local function order_status(w)
   local d = R(1, 10)
   local c
   con:query("BEGIN")
   if R(1, 100) <= 60 then
      c = customer_by_name(w, d, C.last_name(nurand(R, 255, 0, 999,
                                                    C.C_LAST_RUN)),
                           ", c_balance, c_first, c_middle, c_last")
   else
      c = nurand(R, 1023, 1, 3000, C.C_ID)
      query_row(fmt("SELECT c_balance, c_first, c_middle, c_last FROM " ..
                       "customer WHERE c_w_id = %d AND c_d_id = %d AND " ..
                       "c_id = %d", w, d, c))
   end
   if c ~= nil then
      local o_id = query_row(fmt(
         "SELECT o_id, o_carrier_id, o_entry_d FROM orders WHERE " ..
            "o_w_id = %d AND o_d_id = %d AND o_c_id = %d " ..
            "ORDER BY o_id DESC LIMIT 1", w, d, c))
      if o_id ~= nil then
         con:query(fmt("SELECT ol_i_id, ol_supply_w_id, ol_quantity, " ..
                          "ol_amount, ol_delivery_d FROM order_line WHERE " ..
                          "ol_w_id = %d AND ol_d_id = %d AND ol_o_id = %d",
                       w, d, tonumber(o_id)))
      end
   end
   con:query("COMMIT")
   return "ok"
end

-- Delivery (clause 2.7), all 10 districts in one database transaction
local function delivery(w)
   local carrier = R(1, 10)
   con:query("BEGIN")
   for d = 1, 10 do
      local no = query_row(fmt(
         "SELECT no_o_id FROM new_orders WHERE no_w_id = %d AND " ..
            "no_d_id = %d ORDER BY no_o_id LIMIT 1 FOR UPDATE", w, d))
      if no ~= nil then
         no = tonumber(no)
         local rs = con:query(fmt("DELETE FROM new_orders WHERE no_w_id = %d " ..
                                     "AND no_d_id = %d AND no_o_id = %d",
                                  w, d, no))
         local cid = query_row(fmt(
            "SELECT o_c_id FROM orders WHERE o_w_id = %d AND o_d_id = %d " ..
               "AND o_id = %d", w, d, no))
         if cid ~= nil then
            con:query(fmt("UPDATE orders SET o_carrier_id = %d WHERE " ..
                             "o_w_id = %d AND o_d_id = %d AND o_id = %d",
                          carrier, w, d, no))
            con:query(fmt("UPDATE order_line SET ol_delivery_d = NOW() " ..
                             "WHERE ol_w_id = %d AND ol_d_id = %d AND " ..
                             "ol_o_id = %d", w, d, no))
            local sum = tonumber(query_row(fmt(
               "SELECT SUM(ol_amount) FROM order_line WHERE ol_w_id = %d " ..
                  "AND ol_d_id = %d AND ol_o_id = %d", w, d, no))) or 0
            con:query(fmt("UPDATE customer SET c_balance = c_balance + %.2f, " ..
                             "c_delivery_cnt = c_delivery_cnt + 1 WHERE " ..
                             "c_w_id = %d AND c_d_id = %d AND c_id = %d",
                          sum, w, d, tonumber(cid)))
         end
      end
   end
   con:query("COMMIT")
   return "ok"
end

-- Stock-Level (clause 2.8)
local function stock_level(w)
   local d = R(1, 10)
   local threshold = R(10, 20)
   con:query("BEGIN")
   local next_o = tonumber(query_row(fmt(
      "SELECT d_next_o_id FROM district WHERE d_w_id = %d AND d_id = %d",
      w, d)))
   query_row(fmt("SELECT COUNT(DISTINCT s.s_i_id) FROM order_line ol " ..
                    "JOIN stock s ON s.s_w_id = %d AND s.s_i_id = ol.ol_i_id " ..
                    "WHERE ol.ol_w_id = %d AND ol.ol_d_id = %d AND " ..
                    "ol.ol_o_id < %d AND ol.ol_o_id >= %d AND " ..
                    "s.s_quantity < %d", w, w, d, next_o, next_o - 20,
                 threshold))
   con:query("COMMIT")
   return "ok"
end

local TXN = { new_order, payment, order_status, delivery, stock_level }

function event()
   local r = R(1, 100)
   local t
   if r <= 45 then t = 1        -- New-Order   45%
   elseif r <= 88 then t = 2    -- Payment     43%
   elseif r <= 92 then t = 3    -- Order-Status 4%
   elseif r <= 96 then t = 4    -- Delivery     4%
   else t = 5 end               -- Stock-Level  4%
   local w = (W == 1) and 1 or R(1, W)
   local ok, res = pcall(TXN[t], w)
   if ok then
      slot[S_DONE + t - 1] = slot[S_DONE + t - 1] + 1
      if res == "rollback" then slot[S_ROLLBACK] = slot[S_ROLLBACK] + 1 end
      return
   end
   if C.is_restart(res) then
      -- deadlock / lock wait timeout / certification failure / lost
      -- connection: count it and let sysbench restart the event (a new
      -- random transaction).
      slot[S_FAILED + t - 1] = slot[S_FAILED + t - 1] + 1
      slot[S_ERRORS] = slot[S_ERRORS] + 1
      if C.conn_lost(res) then
         -- Give up reconnecting once the --time limit has passed; the
         -- event then simply ends and sysbench stops the thread.
         local tl = sysbench.opt.time
         local deadline = (tl and tl > 0) and (slot[S_T_START] + tl) or nil
         local c = C.new_connection(drv, con, deadline)
         if c == nil then return end
         con = c
         slot[S_RECONN] = slot[S_RECONN] + 1
      else
         pcall(con.query, con, "ROLLBACK")
         if tonumber(res.sql_errno) == 1047 then C.sleep(0.05) end
      end
      error(res, 0)
   end
   -- Any other error is fatal for this thread.
   pcall(con.query, con, "ROLLBACK")
   error(res, 0)
end

-- ---------------------------------------------------------------------------
-- Reports
-- ---------------------------------------------------------------------------
local function totals()
   local threads = sysbench.opt.threads
   local t = { done = { 0, 0, 0, 0, 0 }, failed = { 0, 0, 0, 0, 0 },
               rollback = 0, reconn = 0, errors = 0, all = 0,
               tstart = nil, tend = nil }
   for i = 0, threads - 1 do
      local s = shm.slot(i)
      for k = 1, 5 do
         t.done[k] = t.done[k] + s[S_DONE + k - 1]
         t.failed[k] = t.failed[k] + s[S_FAILED + k - 1]
      end
      t.rollback = t.rollback + s[S_ROLLBACK]
      t.reconn = t.reconn + s[S_RECONN]
      t.errors = t.errors + s[S_ERRORS]
      if s[S_T_START] > 0 and (t.tstart == nil or s[S_T_START] < t.tstart) then
         t.tstart = s[S_T_START]
      end
      if s[S_T_END] > 0 and (t.tend == nil or s[S_T_END] > t.tend) then
         t.tend = s[S_T_END]
      end
   end
   for k = 1, 5 do t.all = t.all + t.done[k] end
   return t
end

-- Runs in the reporting thread's own Lua state; prev persists there.
local prev = { no = 0, all = 0, reconn = 0 }

function sysbench.hooks.report_intermediate(stat)
   opts()
   local t = totals()
   local secs = stat.time_interval
   C.out(C.standard_line(stat, t.reconn - prev.reconn))
   C.out(fmt("[ %.0fs ] tpmC: %.2f tpmTotal: %.2f", stat.time_total,
             (t.done[1] - prev.no) / secs * 60,
             (t.all - prev.all) / secs * 60))
   prev = { no = t.done[1], all = t.all, reconn = t.reconn }
end

-- done() runs in the main state after sysbench's own final report.
function done()
   if sysbench.cmdline.command ~= "run" then return end
   local o = opts()
   local t = totals()
   local elapsed = (t.tstart and t.tend) and (t.tend - t.tstart) or 0
   local per_min = elapsed > 0 and (60 / elapsed) or 0
   C.out("")
   C.out(fmt("TPC-C results: warehouses: %d threads: %d elapsed: %.2f",
             o.warehouses, o.threads, elapsed))
   C.out(fmt("TpmC: %.2f", t.done[1] * per_min))
   C.out(fmt("TpmTotal: %.2f", t.all * per_min))
   C.out(fmt("NewOrder: %d, Payment: %d, OrderStatus: %d, Delivery: %d, " ..
                "StockLevel: %d", t.done[1], t.done[2], t.done[3], t.done[4],
             t.done[5]))
   C.out(fmt("Failed: NewOrder: %d, Payment: %d, OrderStatus: %d, " ..
                "Delivery: %d, StockLevel: %d", t.failed[1], t.failed[2],
             t.failed[3], t.failed[4], t.failed[5]))
   C.out(fmt("Rollbacks: %d, Errors: %d, Reconnects: %d", t.rollback,
             t.errors, t.reconn))
end
