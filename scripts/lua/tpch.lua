#!/usr/bin/env sysbench
-- tpch.lua -- TPC-H-like workload for sysbench 1.0.20 (MySQL / MariaDB)
--
-- Part of dbpecker.  Usage:
--   sysbench --config-file=<0600 file> scripts/lua/tpch.lua prepare
--   sysbench --config-file=<file> scripts/lua/tpch.lua check
--   sysbench --config-file=<file> --time=0 scripts/lua/tpch.lua run
--   sysbench --config-file=<file> scripts/lua/tpch.lua cleanup
--
-- prepare generates the 8 tables at --scale (dbgen-like generator written
-- in Lua, deterministic), run executes query streams (22 queries each, in
-- the order of TPC-H Appendix A) and prints one line per query.
-- Output formats, options and caveats: docs/workloads-lua.md.

-- Make require() find tpch_queries.lua next to this script, whatever the cwd.
do
   local path = (sysbench.cmdline and sysbench.cmdline.script_path) or
      (sysbench.test and sysbench.test.path) or ""
   local dir = path:match("^(.*)/[^/]*$") or "."
   package.path = dir .. "/?.lua;" .. package.path
end

local QS = require("tpch_queries")
local ffi = require("ffi")
local fmt = string.format
local floor = math.floor
local concat = table.concat

sysbench.cmdline.options = {
   scale = { "TPC-H scale factor (0.01 .. 1 tested)", 0.01 },
   streams = { "Query streams run by each thread before it stops " ..
                  "(0 = until --time/--events)", 1 },
   queries = { "Comma-separated subset of queries to run, e.g. 1,3,6 " ..
                  "(empty = all 22)", "" },
   query_timeout = { "Per-query timeout in seconds (0 = none)", 0 },
   use_fk = { "Create foreign keys between the TPC-H tables", false },
   mysql_storage_engine = { "Storage engine for the TPC-H tables", "innodb" },
}

-- ===========================================================================
-- Infrastructure (same mechanisms as tpcc_common.lua; kept in sync by hand)
-- ===========================================================================
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
local function now()
   ffi.C.clock_gettime(1, tsbuf)
   return tonumber(tsbuf.tv_sec) + tonumber(tsbuf.tv_nsec) * 1e-9
end
local function sleep(sec) ffi.C.usleep(floor(sec * 1e6)) end

local function out(line)
   io.stdout:write(line .. "\n")
   io.stdout:flush()
end

local function fail(msg)
   io.stdout:flush()
   io.stderr:write("FATAL: ", msg, "\n")
   io.stderr:flush()
   os.exit(1)
end

-- Process-wide shared memory (see tpcc_common.lua for the rationale)
local MAX_SLOTS, SLOT_SIZE = 1100, 128
local shm = {}
do
   local name = "DBP_SB_SHM_tpch_" .. tostring(ffi.C.getpid())
   local v = ffi.C.getenv(name)
   local addr
   if v == nil then
      local p = ffi.C.calloc(1, 64 + 32 * 8 + MAX_SLOTS * SLOT_SIZE * 8)
      assert(p ~= nil, "calloc failed")
      addr = tonumber(ffi.cast("uintptr_t", p))
      ffi.C.setenv(name, fmt("%.0f", addr), 1)
   else
      addr = tonumber(ffi.string(v))
   end
   local base = ffi.cast("char *", ffi.cast("uintptr_t", addr))
   shm.mutex = base
   shm.glob = ffi.cast("double *", base + 64)
   shm.slots = ffi.cast("double *", base + 64 + 32 * 8)
   function shm.slot(t)
      assert(t >= 0 and t < MAX_SLOTS, "too many threads")
      return shm.slots + t * SLOT_SIZE
   end
   function shm.lock() ffi.C.pthread_mutex_lock(shm.mutex) end
   function shm.unlock() ffi.C.pthread_mutex_unlock(shm.mutex) end
end
local glob = shm.glob

-- Script options from --config-file (sysbench 1.0.20 ignores them there);
-- precedence: command line > config file > default.
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

local function opts()
   local opt = sysbench.opt
   if opt == nil or rawget(opt, "__dbp_resolved") then return opt end
   local defs = sysbench.cmdline.options
   local given, cfgfile = {}, nil
   local f = io.open("/proc/self/cmdline", "rb")
   if f then
      local s = f:read("*a") or ""
      f:close()
      for a in s:gmatch("([^%z]*)%z") do
         local k, v = a:match("^%-%-([%w_%-]+)=(.*)$")
         if k then
            k = k:gsub("%-", "_")
            given[k] = v
            if k == "config_file" then cfgfile = v end
         end
      end
   end
   if cfgfile then
      local cf = io.open(cfgfile, "r")
      if cf then
         for line in cf:lines() do
            local k, v = line:match("^%s*([%w_%-]+)%s*=%s*(.-)%s*$")
            if v then v = cfg_value(v) end
            if k and not line:match("^%s*#") then
               k = k:gsub("%-", "_")
               if defs[k] ~= nil and given[k] == nil then
                  local d = defs[k][2]
                  if type(d) == "number" then
                     local n = tonumber(v)
                     if n == nil then
                        fail(fmt("invalid numeric value '%s' for option %s " ..
                                    "in %s", v, k, cfgfile))
                     end
                     opt[k] = n
                  elseif type(d) == "boolean" then
                     v = v:lower()
                     opt[k] = (v == "on" or v == "true" or v == "yes" or
                                  v == "1")
                  else
                     opt[k] = v
                  end
               end
            end
         end
         cf:close()
      end
   end
   opt.__dbp_resolved = true
   return opt
end

-- Errors: see tpcc_common.lua.  Lost connections are replaced by NEW
-- connections (sysbench 1.0.20's own reconnect crashes with libmariadb).
local RETRYABLE = { [1205] = true, [1213] = true, [1020] = true,
                    [1180] = true, [1181] = true, [1047] = true }
local CONN_ERRORS = { [2002] = true, [2003] = true, [2006] = true,
                      [2013] = true, [2055] = true, [1053] = true,
                      [1927] = true, [1077] = true, [4031] = true }
sysbench.hooks.sql_error_ignorable = function(err)
   local e = tonumber(err.sql_errno) or 0
   return RETRYABLE[e] or CONN_ERRORS[e] or false
end

local function err_info(err)
   if type(err) == "table" then
      return tonumber(err.sql_errno) or 0, tostring(err.sql_errmsg)
   end
   local s = tostring(err)
   local e = tonumber(s:match("errno = (%d+)")) or 0
   local m = s:match("errno = %d+, state = '[^']*': (.*)$") or s
   return e, m
end

local function standard_line(stat, extra_reconnects)
   local s = stat.time_interval
   return fmt("[ %.0fs ] thds: %u tps: %4.2f qps: %4.2f " ..
                 "(r/w/o: %4.2f/%4.2f/%4.2f) lat (ms,%u%%): %4.2f " ..
                 "err/s: %4.2f reconn/s: %4.2f",
              stat.time_total, stat.threads_running, stat.events / s,
              (stat.reads + stat.writes + stat.other) / s,
              stat.reads / s, stat.writes / s, stat.other / s,
              sysbench.opt.percentile, stat.latency_pct * 1000,
              stat.errors / s, (stat.reconnects + (extra_reconnects or 0)) / s)
end

-- ===========================================================================
-- Scale and cardinalities (clause 4.2.5)
-- ===========================================================================
local TABLES = { "region", "nation", "supplier", "part", "partsupp",
                 "customer", "orders", "lineitem" }

local function round(x) return floor(x + 0.5) end

local function cardinalities(sf)
   local c = {
      region = 5, nation = 25,
      supplier = round(10000 * sf),
      part = round(200000 * sf),
      customer = round(150000 * sf),
      orders = round(1500000 * sf),
   }
   c.partsupp = 4 * c.part
   c.lineitem = 4 * c.orders -- expected value (1..7 lines per order)
   c.clerks = math.max(1, round(1000 * sf))
   return c
end

local function check_scale(sf)
   if type(sf) ~= "number" or sf < 0.001 or sf > 100 then
      fail(fmt("--scale must be between 0.001 and 100 (got %s)", tostring(sf)))
   end
end

-- ===========================================================================
-- Data generator (clause 4.2.3), dbgen-like.
-- Each load unit seeds LuaJIT's math.random (Tausworthe PRNG, deterministic
-- for a seed) from the unit identity, so data do not depend on --threads.
-- ===========================================================================
local rnd = math.random

-- Dates: days since 1970-01-01 <-> 'YYYY-MM-DD' (proleptic Gregorian)
local function days_from_civil(y, m, d)
   if m <= 2 then y = y - 1 end
   local era = floor(y / 400)
   local yoe = y - era * 400
   local mp = (m > 2) and (m - 3) or (m + 9)
   local doy = floor((153 * mp + 2) / 5) + d - 1
   local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
   return era * 146097 + doe - 719468
end

local function civil_from_days(z)
   z = z + 719468
   local era = floor(z / 146097)
   local doe = z - era * 146097
   local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) -
                         floor(doe / 146096)) / 365)
   local y = yoe + era * 400
   local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
   local mp = floor((5 * doy + 2) / 153)
   local d = doy - floor((153 * mp + 2) / 5) + 1
   local m = (mp < 10) and (mp + 3) or (mp - 9)
   if m <= 2 then y = y + 1 end
   return y, m, d
end

local STARTDATE = days_from_civil(1992, 1, 1)
local CURRENTDATE = days_from_civil(1995, 6, 17)
local ENDDATE = days_from_civil(1998, 12, 31)
local ORDER_DAYS = ENDDATE - 151 - STARTDATE -- last o_orderdate 1998-08-02
local DATESTR = {}
for i = 0, ENDDATE - STARTDATE + 200 do
   DATESTR[i] = fmt("%04d-%02d-%02d", civil_from_days(STARTDATE + i))
end
local CURRENT_IDX = CURRENTDATE - STARTDATE

-- Word lists (dists.dss)
local NATIONS = {
   { "ALGERIA", 0 }, { "ARGENTINA", 1 }, { "BRAZIL", 1 }, { "CANADA", 1 },
   { "EGYPT", 4 }, { "ETHIOPIA", 0 }, { "FRANCE", 3 }, { "GERMANY", 3 },
   { "INDIA", 2 }, { "INDONESIA", 2 }, { "IRAN", 4 }, { "IRAQ", 4 },
   { "JAPAN", 2 }, { "JORDAN", 4 }, { "KENYA", 0 }, { "MOROCCO", 0 },
   { "MOZAMBIQUE", 0 }, { "PERU", 1 }, { "CHINA", 2 }, { "ROMANIA", 3 },
   { "SAUDI ARABIA", 4 }, { "VIETNAM", 2 }, { "RUSSIA", 3 },
   { "UNITED KINGDOM", 3 }, { "UNITED STATES", 1 },
}
local REGIONS = { "AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST" }
local SEGMENTS = { "AUTOMOBILE", "BUILDING", "FURNITURE", "HOUSEHOLD",
                   "MACHINERY" }
local PRIORITIES = { "1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED",
                     "5-LOW" }
local INSTRUCT = { "DELIVER IN PERSON", "COLLECT COD", "TAKE BACK RETURN",
                   "NONE" }
local SHIPMODES = { "REG AIR", "AIR", "RAIL", "TRUCK", "MAIL", "FOB", "SHIP" }
local TYPE1 = { "STANDARD", "SMALL", "MEDIUM", "LARGE", "ECONOMY", "PROMO" }
local TYPE2 = { "ANODIZED", "BURNISHED", "PLATED", "POLISHED", "BRUSHED" }
local TYPE3 = { "TIN", "NICKEL", "BRASS", "STEEL", "COPPER" }
local CONT1 = { "SM", "LG", "MED", "JUMBO", "WRAP" }
local CONT2 = { "CASE", "BOX", "BAG", "JAR", "PKG", "PACK", "CAN", "DRUM" }
local COLORS = {
   "almond", "antique", "aquamarine", "azure", "beige", "bisque", "black",
   "blanched", "blue", "blush", "brown", "burlywood", "burnished",
   "chartreuse", "chiffon", "chocolate", "coral", "cornflower", "cornsilk",
   "cream", "cyan", "dark", "deep", "dim", "dodger", "drab", "firebrick",
   "floral", "forest", "frosted", "gainsboro", "ghost", "goldenrod", "green",
   "grey", "honeydew", "hot", "indian", "ivory", "khaki", "lace", "lavender",
   "lawn", "lemon", "light", "lime", "linen", "magenta", "maroon", "medium",
   "metallic", "midnight", "mint", "misty", "moccasin", "navajo", "navy",
   "olive", "orange", "orchid", "pale", "papaya", "peach", "peru", "pink",
   "plum", "powder", "puff", "purple", "red", "rose", "rosy", "royal",
   "saddle", "salmon", "sandy", "seashell", "sienna", "sky", "slate",
   "smoke", "snow", "spring", "steel", "tan", "thistle", "tomato",
   "turquoise", "violet", "wheat", "white", "yellow",
}

-- Weighted distributions for the text grammar, expanded by weight
local function expand(spec)
   local t = {}
   for _, e in ipairs(spec) do
      for _ = 1, e[2] do t[#t + 1] = e[1] end
   end
   return t
end
local NOUNS = expand {
   { "packages", 40 }, { "requests", 40 }, { "accounts", 40 },
   { "deposits", 40 }, { "foxes", 20 }, { "ideas", 20 },
   { "theodolites", 20 }, { "pinto beans", 20 }, { "instructions", 20 },
   { "dependencies", 10 }, { "excuses", 10 }, { "platelets", 10 },
   { "asymptotes", 10 }, { "courts", 5 }, { "dolphins", 5 },
   { "multipliers", 1 }, { "sauternes", 1 }, { "warthogs", 1 },
   { "frets", 1 }, { "dinos", 1 }, { "attainments", 1 }, { "somas", 1 },
   { "Tiresias", 1 }, { "patterns", 1 }, { "forges", 1 }, { "braids", 1 },
   { "frays", 1 }, { "warhorses", 1 }, { "dugouts", 1 }, { "notornis", 1 },
   { "epitaphs", 1 }, { "pearls", 1 }, { "tithes", 1 }, { "waters", 1 },
   { "orbits", 1 }, { "gifts", 1 }, { "sheaves", 1 }, { "depths", 1 },
   { "sentiments", 1 }, { "decoys", 1 }, { "realms", 1 }, { "pains", 1 },
   { "grouches", 1 }, { "escapades", 1 }, { "hockey players", 1 },
}
local VERBS = expand {
   { "sleep", 20 }, { "wake", 20 }, { "are", 20 }, { "cajole", 20 },
   { "haggle", 20 }, { "nag", 10 }, { "use", 10 }, { "boost", 10 },
   { "affix", 5 }, { "detect", 5 }, { "integrate", 5 }, { "maintain", 1 },
   { "nod", 1 }, { "was", 1 }, { "lose", 1 }, { "sublate", 1 },
   { "solve", 1 }, { "thrash", 1 }, { "promise", 1 }, { "engage", 1 },
   { "hinder", 1 }, { "print", 1 }, { "x-ray", 1 }, { "breach", 1 },
   { "eat", 1 }, { "grow", 1 }, { "impress", 1 }, { "mold", 1 },
   { "poach", 1 }, { "serve", 1 }, { "run", 1 }, { "dazzle", 1 },
   { "snooze", 1 }, { "doze", 1 }, { "unwind", 1 }, { "kindle", 1 },
   { "play", 1 }, { "hang", 1 }, { "believe", 1 }, { "doubt", 1 },
}
local ADJECTIVES = expand {
   { "special", 20 }, { "pending", 20 }, { "unusual", 20 }, { "express", 20 },
   { "furious", 1 }, { "sly", 1 }, { "careful", 1 }, { "blithe", 1 },
   { "quick", 1 }, { "fluffy", 1 }, { "slow", 1 }, { "quiet", 1 },
   { "ruthless", 1 }, { "thin", 1 }, { "close", 1 }, { "dogged", 1 },
   { "daring", 1 }, { "brave", 1 }, { "stealthy", 1 }, { "permanent", 1 },
   { "enticing", 1 }, { "idle", 1 }, { "busy", 1 }, { "regular", 50 },
   { "final", 40 }, { "ironic", 40 }, { "even", 30 }, { "bold", 20 },
   { "silent", 10 },
}
local ADVERBS = expand {
   { "sometimes", 1 }, { "always", 1 }, { "never", 1 }, { "furiously", 50 },
   { "slyly", 50 }, { "carefully", 50 }, { "blithely", 40 },
   { "quickly", 30 }, { "fluffily", 20 }, { "slowly", 1 }, { "quietly", 1 },
   { "ruthlessly", 1 }, { "thinly", 1 }, { "closely", 1 }, { "doggedly", 1 },
   { "daringly", 1 }, { "bravely", 1 }, { "stealthily", 1 },
   { "permanently", 1 }, { "enticingly", 1 }, { "idly", 1 }, { "busily", 1 },
   { "regularly", 1 }, { "finally", 1 }, { "ironically", 1 },
   { "evenly", 1 }, { "boldly", 1 }, { "silently", 1 },
}
local PREPOSITIONS = expand {
   { "about", 50 }, { "above", 50 }, { "according to", 50 },
   { "across", 50 }, { "after", 50 }, { "against", 40 }, { "along", 40 },
   { "alongside of", 30 }, { "among", 30 }, { "around", 20 }, { "at", 10 },
   { "atop", 1 }, { "before", 1 }, { "behind", 1 }, { "beneath", 1 },
   { "beside", 1 }, { "besides", 1 }, { "between", 1 }, { "beyond", 1 },
   { "by", 1 }, { "despite", 1 }, { "during", 1 }, { "except", 1 },
   { "for", 1 }, { "from", 1 }, { "in place of", 1 }, { "inside", 1 },
   { "instead of", 1 }, { "into", 1 }, { "near", 1 }, { "of", 1 },
   { "on", 1 }, { "outside", 1 }, { "over", 1 }, { "past", 1 },
   { "since", 1 }, { "through", 1 }, { "throughout", 1 }, { "to", 1 },
   { "toward", 1 }, { "under", 1 }, { "until", 1 }, { "up", 1 },
   { "upon", 1 }, { "without", 1 }, { "with", 1 }, { "within", 1 },
}
local AUXILIARIES = {
   "do", "may", "might", "shall", "will", "would", "can", "could", "should",
   "ought to", "must", "will have to", "shall have to", "could have to",
   "should have to", "must have to", "need to", "try to",
}
local TERMINATORS = expand {
   { ".", 50 }, { ";", 1 }, { ":", 1 }, { "?", 1 }, { "!", 1 }, { "--", 1 },
}
local GRAMMAR = expand {
   { "NVT", 3 }, { "NVPT", 3 }, { "NVNT", 3 }, { "NPVNT", 1 }, { "NPVPT", 1 },
}
local NP = expand { { "N", 10 }, { "JN", 20 }, { "J,JN", 10 }, { "DJN", 50 } }
local VP = expand { { "V", 30 }, { "XV", 1 }, { "VD", 40 }, { "XVD", 1 } }

local function pick(t) return t[rnd(1, #t)] end

local function noun_phrase(buf)
   local p = pick(NP)
   if p == "N" then buf[#buf + 1] = pick(NOUNS)
   elseif p == "JN" then
      buf[#buf + 1] = pick(ADJECTIVES); buf[#buf + 1] = pick(NOUNS)
   elseif p == "J,JN" then
      buf[#buf + 1] = pick(ADJECTIVES) .. ","
      buf[#buf + 1] = pick(ADJECTIVES); buf[#buf + 1] = pick(NOUNS)
   else
      buf[#buf + 1] = pick(ADVERBS); buf[#buf + 1] = pick(ADJECTIVES)
      buf[#buf + 1] = pick(NOUNS)
   end
end

local function verb_phrase(buf)
   local p = pick(VP)
   if p:sub(1, 1) == "X" then buf[#buf + 1] = pick(AUXILIARIES) end
   buf[#buf + 1] = pick(VERBS)
   if p:sub(-1) == "D" then buf[#buf + 1] = pick(ADVERBS) end
end

local function sentence()
   local buf = {}
   local g = pick(GRAMMAR)
   for i = 1, #g do
      local c = g:sub(i, i)
      if c == "N" then noun_phrase(buf)
      elseif c == "V" then verb_phrase(buf)
      elseif c == "P" then
         buf[#buf + 1] = pick(PREPOSITIONS); buf[#buf + 1] = "the"
         noun_phrase(buf)
      else
         buf[#buf] = buf[#buf] .. pick(TERMINATORS)
      end
   end
   return concat(buf, " ")
end

-- Text pool (dbgen uses a 300 MB pool; 2 MB is plenty for these scales).
-- Built once per Lua state from a fixed seed: identical in every thread.
local TEXT, TEXT_LEN
local VCHARS = "0123456789abcdefghijklmnopqrstuvwxyz" ..
   "ABCDEFGHIJKLMNOPQRSTUVWXYZ, "
local VPOOL, VPOOL_LEN

local function build_pools()
   if TEXT then return end
   math.randomseed(19920101)
   local t, n = {}, 0
   while n < 2 * 1024 * 1024 do
      local s = sentence()
      t[#t + 1] = s
      n = n + #s + 1
   end
   TEXT = concat(t, " ")
   TEXT_LEN = #TEXT
   local v = {}
   for i = 1, 65536 do
      local k = rnd(1, #VCHARS)
      v[i] = VCHARS:sub(k, k)
   end
   VPOOL = concat(v)
   VPOOL_LEN = #VPOOL
end

-- random text of length in [lo, hi] (spec: "text appropriate")
local function text(lo, hi)
   local n = rnd(lo, hi)
   local o = rnd(1, TEXT_LEN - n)
   return TEXT:sub(o, o + n - 1)
end

-- random v-string of length in [lo, hi]
local function vstr(lo, hi)
   local n = rnd(lo, hi)
   local o = rnd(1, VPOOL_LEN - n)
   return VPOOL:sub(o, o + n - 1)
end

local function phone(nationkey)
   return fmt("%02d-%03d-%03d-%04d", nationkey + 10, rnd(100, 999),
              rnd(100, 999), rnd(1000, 9999))
end

local function seed_unit(kind, first)
   math.randomseed((kind * 7919 + first) % 2147483646 + 1)
end

-- p_retailprice in cents (clause 4.2.3)
local function retail_cents(pk)
   return 90000 + floor(pk / 10) % 20001 + 100 * (pk % 1000)
end

-- ps_suppkey / l_suppkey for supplier i (0..3) of part pk (clause 4.2.3)
local function supp_for(pk, i, S)
   return (pk + (i * (floor(S / 4) + floor((pk - 1) / S)))) % S + 1
end

-- Multi-row INSERT batcher: one statement (= one autocommit transaction)
-- per batch.
local function batcher(con, head, max_rows)
   local b = { rows = {}, n = 0 }
   function b.add(row)
      b.n = b.n + 1
      b.rows[b.n] = row
      if b.n >= max_rows then b.flush() end
   end
   function b.flush()
      if b.n == 0 then return end
      con:query(head .. concat(b.rows, ",", 1, b.n))
      b.rows = {}
      b.n = 0
   end
   return b
end

local function load_small(con)
   seed_unit(1, 0)
   local r = {}
   for i, name in ipairs(REGIONS) do
      r[i] = fmt("(%d,'%s','%s')", i - 1, name, text(31, 115))
   end
   con:query("INSERT INTO region (r_regionkey, r_name, r_comment) VALUES " ..
                concat(r, ","))
   local n = {}
   for i, e in ipairs(NATIONS) do
      n[i] = fmt("(%d,'%s',%d,'%s')", i - 1, e[1], e[2], text(31, 114))
   end
   con:query("INSERT INTO nation (n_nationkey, n_name, n_regionkey, " ..
                "n_comment) VALUES " .. concat(n, ","))
end

-- "Customer ... Complaints" / "Customer ... Recommends" (clause 4.2.3):
-- SF*5 suppliers each (at least 1 each, so that Q16's sub-query is not
-- trivially empty at small scales).
local function bbb(comment, word)
   local L = #comment
   local base = 9 + 10
   local noise = rnd(0, L - base)
   local off = rnd(0, L - (base + noise))
   return comment:sub(1, off) .. "Customer " ..
      comment:sub(off + 10, off + 9 + noise) .. word ..
      comment:sub(off + base + noise + 1)
end

local function load_supplier(con, c)
   seed_unit(2, 0)
   local S = c.supplier
   local nb = math.max(1, round(S / 2000))
   local special = {}
   local k = 0
   while k < 2 * nb and k < S do
      local s = rnd(1, S)
      if special[s] == nil then
         special[s] = (k < nb) and "Complaints" or "Recommends"
         k = k + 1
      end
   end
   local b = batcher(con, "INSERT INTO supplier (s_suppkey, s_name, " ..
                        "s_address, s_nationkey, s_phone, s_acctbal, " ..
                        "s_comment) VALUES ", 2000)
   for s = 1, S do
      local nk = rnd(0, 24)
      local cm = text(25, 100)
      if special[s] then cm = bbb(cm, special[s]) end
      b.add(fmt("(%d,'Supplier#%09d','%s',%d,'%s',%.2f,'%s')", s, s,
                vstr(10, 40), nk, phone(nk), rnd(-99999, 999999) / 100, cm))
   end
   b.flush()
end

local function load_part(con, c, first, last)
   seed_unit(3, first)
   local S = c.supplier
   local bp = batcher(con, "INSERT INTO part (p_partkey, p_name, p_mfgr, " ..
                         "p_brand, p_type, p_size, p_container, " ..
                         "p_retailprice, p_comment) VALUES ", 2000)
   local bs = batcher(con, "INSERT INTO partsupp (ps_partkey, ps_suppkey, " ..
                         "ps_availqty, ps_supplycost, ps_comment) VALUES ",
                      2000)
   local ncol = #COLORS
   for pk = first, last do
      -- p_name: 5 distinct colors
      local used, words = {}, {}
      while #words < 5 do
         local w = rnd(1, ncol)
         if not used[w] then
            used[w] = true
            words[#words + 1] = COLORS[w]
         end
      end
      local m = rnd(1, 5)
      bp.add(fmt("(%d,'%s','Manufacturer#%d','Brand#%d%d','%s %s %s',%d," ..
                    "'%s %s',%.2f,'%s')", pk, concat(words, " "), m, m,
                 rnd(1, 5), pick(TYPE1), pick(TYPE2), pick(TYPE3),
                 rnd(1, 50), pick(CONT1), pick(CONT2),
                 retail_cents(pk) / 100, text(5, 22)))
      for i = 0, 3 do
         bs.add(fmt("(%d,%d,%d,%.2f,'%s')", pk, supp_for(pk, i, S),
                    rnd(1, 9999), rnd(100, 100000) / 100, text(49, 198)))
      end
   end
   bp.flush()
   bs.flush()
end

local function load_customer(con, c, first, last)
   seed_unit(4, first)
   local b = batcher(con, "INSERT INTO customer (c_custkey, c_name, " ..
                        "c_address, c_nationkey, c_phone, c_acctbal, " ..
                        "c_mktsegment, c_comment) VALUES ", 2000)
   for ck = first, last do
      local nk = rnd(0, 24)
      b.add(fmt("(%d,'Customer#%09d','%s',%d,'%s',%.2f,'%s','%s')", ck, ck,
                vstr(10, 40), nk, phone(nk), rnd(-99999, 999999) / 100,
                pick(SEGMENTS), text(29, 116)))
   end
   b.flush()
end

-- ORDERS + LINEITEM for order numbers first..last (1-based); keys are
-- sparse: only the first 8 of each group of 32 keys are used.
local function load_orders(con, c, first, last)
   seed_unit(5, first)
   local S, P, C = c.supplier, c.part, c.customer
   local bo = batcher(con, "INSERT INTO orders (o_orderkey, o_custkey, " ..
                         "o_orderstatus, o_totalprice, o_orderdate, " ..
                         "o_orderpriority, o_clerk, o_shippriority, " ..
                         "o_comment) VALUES ", 2000)
   local bl = batcher(con, "INSERT INTO lineitem (l_orderkey, l_partkey, " ..
                         "l_suppkey, l_linenumber, l_quantity, " ..
                         "l_extendedprice, l_discount, l_tax, " ..
                         "l_returnflag, l_linestatus, l_shipdate, " ..
                         "l_commitdate, l_receiptdate, l_shipinstruct, " ..
                         "l_shipmode, l_comment) VALUES ", 2000)
   for i = first, last do
      local ok = floor((i - 1) / 8) * 32 + (i - 1) % 8 + 1
      local ck
      repeat ck = rnd(1, C) until ck % 3 ~= 0 or C < 3
      local od = rnd(0, ORDER_DAYS)
      local nl = rnd(1, 7)
      local total = 0
      local n_f, n_o = 0, 0
      for ln = 1, nl do
         local pk = rnd(1, P)
         local sk = supp_for(pk, rnd(0, 3), S)
         local qty = rnd(1, 50)
         local eprice = qty * retail_cents(pk) / 100
         local disc = rnd(0, 10) / 100
         local tax = rnd(0, 8) / 100
         local sd = od + rnd(1, 121)
         local cd = od + rnd(30, 90)
         local rd = sd + rnd(1, 30)
         local rf = (rd <= CURRENT_IDX) and ((rnd(0, 1) == 0) and "R" or "A")
            or "N"
         local ls
         if sd > CURRENT_IDX then ls = "O"; n_o = n_o + 1
         else ls = "F"; n_f = n_f + 1 end
         total = total + eprice * (1 + tax) * (1 - disc)
         bl.add(fmt("(%d,%d,%d,%d,%d,%.2f,%.2f,%.2f,'%s','%s','%s','%s'," ..
                       "'%s','%s','%s','%s')", ok, pk, sk, ln, qty, eprice,
                    disc, tax, rf, ls, DATESTR[sd], DATESTR[cd], DATESTR[rd],
                    pick(INSTRUCT), pick(SHIPMODES), text(10, 43)))
      end
      local status = (n_o == 0) and "F" or ((n_f == 0) and "O" or "P")
      bo.add(fmt("(%d,%d,'%s',%.2f,'%s','%s','Clerk#%09d',0,'%s')", ok, ck,
                 status, total, DATESTR[od], pick(PRIORITIES),
                 rnd(1, c.clerks), text(19, 78)))
   end
   bo.flush()
   bl.flush()
end

-- Load units (fixed chunk sizes, so data are independent of --threads)
local PART_CHUNK, CUST_CHUNK, ORDER_CHUNK = 20000, 30000, 10000

local function units(c)
   local u = { { "region+nation" }, { "supplier" } }
   local function chunks(kind, total, size)
      local first = 1
      while first <= total do
         local last = math.min(total, first + size - 1)
         u[#u + 1] = { kind, first, last }
         first = last + 1
      end
   end
   chunks("part+partsupp", c.part, PART_CHUNK)
   chunks("customer", c.customer, CUST_CHUNK)
   chunks("orders+lineitem", c.orders, ORDER_CHUNK)
   return u
end

local function run_unit(con, c, u)
   build_pools()
   local k = u[1]
   if k == "region+nation" then load_small(con)
   elseif k == "supplier" then load_supplier(con, c)
   elseif k == "part+partsupp" then load_part(con, c, u[2], u[3])
   elseif k == "customer" then load_customer(con, c, u[2], u[3])
   else load_orders(con, c, u[2], u[3]) end
end

-- ===========================================================================
-- Schema (clause 1.4) with primary keys and foreign-key indexes
-- ===========================================================================
local function ddl(engine, use_fk)
   local e = ") ENGINE=" .. engine
   local function fk(s) return use_fk and (",\n  " .. s) or "" end
   return {
      region = [[
CREATE TABLE IF NOT EXISTS region (
  r_regionkey INT NOT NULL,
  r_name CHAR(25) NOT NULL,
  r_comment VARCHAR(152),
  PRIMARY KEY (r_regionkey)]] .. e,
      nation = [[
CREATE TABLE IF NOT EXISTS nation (
  n_nationkey INT NOT NULL,
  n_name CHAR(25) NOT NULL,
  n_regionkey INT NOT NULL,
  n_comment VARCHAR(152),
  PRIMARY KEY (n_nationkey),
  KEY idx_n_regionkey (n_regionkey)]] ..
         fk("CONSTRAINT fk_nation_region FOREIGN KEY (n_regionkey) REFERENCES region (r_regionkey)") .. e,
      supplier = [[
CREATE TABLE IF NOT EXISTS supplier (
  s_suppkey INT NOT NULL,
  s_name CHAR(25) NOT NULL,
  s_address VARCHAR(40) NOT NULL,
  s_nationkey INT NOT NULL,
  s_phone CHAR(15) NOT NULL,
  s_acctbal DECIMAL(15,2) NOT NULL,
  s_comment VARCHAR(101) NOT NULL,
  PRIMARY KEY (s_suppkey),
  KEY idx_s_nationkey (s_nationkey)]] ..
         fk("CONSTRAINT fk_supplier_nation FOREIGN KEY (s_nationkey) REFERENCES nation (n_nationkey)") .. e,
      part = [[
CREATE TABLE IF NOT EXISTS part (
  p_partkey INT NOT NULL,
  p_name VARCHAR(55) NOT NULL,
  p_mfgr CHAR(25) NOT NULL,
  p_brand CHAR(10) NOT NULL,
  p_type VARCHAR(25) NOT NULL,
  p_size INT NOT NULL,
  p_container CHAR(10) NOT NULL,
  p_retailprice DECIMAL(15,2) NOT NULL,
  p_comment VARCHAR(23) NOT NULL,
  PRIMARY KEY (p_partkey)]] .. e,
      partsupp = [[
CREATE TABLE IF NOT EXISTS partsupp (
  ps_partkey INT NOT NULL,
  ps_suppkey INT NOT NULL,
  ps_availqty INT NOT NULL,
  ps_supplycost DECIMAL(15,2) NOT NULL,
  ps_comment VARCHAR(199) NOT NULL,
  PRIMARY KEY (ps_partkey, ps_suppkey),
  KEY idx_ps_suppkey (ps_suppkey)]] ..
         fk("CONSTRAINT fk_partsupp_part FOREIGN KEY (ps_partkey) REFERENCES part (p_partkey)") ..
         fk("CONSTRAINT fk_partsupp_supplier FOREIGN KEY (ps_suppkey) REFERENCES supplier (s_suppkey)") .. e,
      customer = [[
CREATE TABLE IF NOT EXISTS customer (
  c_custkey INT NOT NULL,
  c_name VARCHAR(25) NOT NULL,
  c_address VARCHAR(40) NOT NULL,
  c_nationkey INT NOT NULL,
  c_phone CHAR(15) NOT NULL,
  c_acctbal DECIMAL(15,2) NOT NULL,
  c_mktsegment CHAR(10) NOT NULL,
  c_comment VARCHAR(117) NOT NULL,
  PRIMARY KEY (c_custkey),
  KEY idx_c_nationkey (c_nationkey)]] ..
         fk("CONSTRAINT fk_customer_nation FOREIGN KEY (c_nationkey) REFERENCES nation (n_nationkey)") .. e,
      orders = [[
CREATE TABLE IF NOT EXISTS orders (
  o_orderkey INT NOT NULL,
  o_custkey INT NOT NULL,
  o_orderstatus CHAR(1) NOT NULL,
  o_totalprice DECIMAL(15,2) NOT NULL,
  o_orderdate DATE NOT NULL,
  o_orderpriority CHAR(15) NOT NULL,
  o_clerk CHAR(15) NOT NULL,
  o_shippriority INT NOT NULL,
  o_comment VARCHAR(79) NOT NULL,
  PRIMARY KEY (o_orderkey),
  KEY idx_o_custkey (o_custkey),
  KEY idx_o_orderdate (o_orderdate)]] ..
         fk("CONSTRAINT fk_orders_customer FOREIGN KEY (o_custkey) REFERENCES customer (c_custkey)") .. e,
      lineitem = [[
CREATE TABLE IF NOT EXISTS lineitem (
  l_orderkey INT NOT NULL,
  l_partkey INT NOT NULL,
  l_suppkey INT NOT NULL,
  l_linenumber INT NOT NULL,
  l_quantity DECIMAL(15,2) NOT NULL,
  l_extendedprice DECIMAL(15,2) NOT NULL,
  l_discount DECIMAL(15,2) NOT NULL,
  l_tax DECIMAL(15,2) NOT NULL,
  l_returnflag CHAR(1) NOT NULL,
  l_linestatus CHAR(1) NOT NULL,
  l_shipdate DATE NOT NULL,
  l_commitdate DATE NOT NULL,
  l_receiptdate DATE NOT NULL,
  l_shipinstruct CHAR(25) NOT NULL,
  l_shipmode CHAR(10) NOT NULL,
  l_comment VARCHAR(44) NOT NULL,
  PRIMARY KEY (l_orderkey, l_linenumber),
  KEY idx_l_partkey_suppkey (l_partkey, l_suppkey),
  KEY idx_l_suppkey (l_suppkey),
  KEY idx_l_shipdate (l_shipdate)]] ..
         fk("CONSTRAINT fk_lineitem_orders FOREIGN KEY (l_orderkey) REFERENCES orders (o_orderkey)") ..
         fk("CONSTRAINT fk_lineitem_partsupp FOREIGN KEY (l_partkey, l_suppkey) REFERENCES partsupp (ps_partkey, ps_suppkey)") .. e,
   }
end

-- ===========================================================================
-- prepare / cleanup / check
-- ===========================================================================
local function create_schema(con, o)
   local list = {}
   for _, t in ipairs(TABLES) do list[#list + 1] = "'" .. t .. "'" end
   local n = tonumber(con:query_row(
                         "SELECT COUNT(*) FROM information_schema.tables " ..
                            "WHERE table_schema = DATABASE() AND table_name " ..
                            "IN (" .. concat(list, ",") .. ")"))
   if n > 0 then
      error(fmt("%d TPC-H table(s) already exist in this database; run " ..
                   "'cleanup' first", n), 0)
   end
   local d = ddl(o.mysql_storage_engine, o.use_fk)
   for _, t in ipairs(TABLES) do con:query(d[t]) end
end

local function errstr(err)
   if type(err) == "table" then
      return fmt("errno %s: %s", tostring(err.sql_errno),
                 tostring(err.sql_errmsg))
   end
   return tostring(err)
end

local function cmd_prepare()
   local o = opts()
   check_scale(o.scale)
   local c = cardinalities(o.scale)
   local tid, threads = sysbench.tid, o.threads
   local drv = sysbench.sql.driver()
   local con = drv:connect()
   con:query("SET SESSION foreign_key_checks = 0")

   shm.lock()
   if glob[0] == 0 then
      glob[2] = now()
      print(fmt("Creating TPC-H tables (scale %g, engine %s, foreign keys %s)...",
                o.scale, o.mysql_storage_engine, o.use_fk and "on" or "off"))
      local ok, err = pcall(create_schema, con, o)
      glob[0] = ok and 1 or 2
      if not ok then
         shm.unlock()
         fail("prepare: " .. errstr(err))
      end
   end
   local st = glob[0]
   shm.unlock()
   if st ~= 1 then fail("prepare: schema creation failed in another thread") end

   for i, u in ipairs(units(c)) do
      if (i - 1) % threads == tid then
         out(fmt("Thread %d: loading %s%s", tid, u[1],
                 u[2] and fmt(" %d..%d", u[2], u[3]) or ""))
         local ok, err = pcall(run_unit, con, c, u)
         if not ok then fail("prepare: " .. errstr(err)) end
      end
   end

   shm.lock()
   glob[1] = glob[1] + 1
   local last = (glob[1] == threads)
   shm.unlock()
   if last then
      out("Analyzing tables...")
      for _, t in ipairs(TABLES) do
         local ok, err = pcall(con.query, con, "ANALYZE TABLE " .. t)
         if not ok then fail("prepare: " .. errstr(err)) end
      end
      out(fmt("Prepare done: scale: %g seconds: %.1f", o.scale, now() - glob[2]))
   end
   con:disconnect()
end

local function cmd_cleanup()
   local drv = sysbench.sql.driver()
   local con = drv:connect()
   con:query("SET SESSION foreign_key_checks = 0")
   for i = #TABLES, 1, -1 do
      print("Dropping table '" .. TABLES[i] .. "'...")
      con:query("DROP TABLE IF EXISTS " .. TABLES[i])
   end
   con:disconnect()
end

local function cmd_check()
   local o = opts()
   check_scale(o.scale)
   local c = cardinalities(o.scale)
   local drv = sysbench.sql.driver()
   local con = drv:connect()
   local good = true
   local ok, err = pcall(function()
      for _, t in ipairs(TABLES) do
         local n = tonumber(con:query_row("SELECT COUNT(*) FROM " .. t)) or 0
         local e = c[t]
         local pass, tol
         if t == "lineitem" then
            tol = "2%"
            pass = math.abs(n - e) <= 0.02 * e
         else
            tol = "exact"
            pass = (n == e)
         end
         good = good and pass
         out(fmt("Table %s rows: %d expected: %d tolerance: %s status: %s",
                 t, n, e, tol, pass and "OK" or "FAIL"))
      end
   end)
   if not ok then
      out("Check error: " .. errstr(err))
      good = false
   end
   out("Check: " .. (good and "PASSED" or "FAILED"))
   con:disconnect()
   return good
end

sysbench.cmdline.commands = {
   prepare = { cmd_prepare, sysbench.cmdline.PARALLEL_COMMAND },
   cleanup = { cmd_cleanup },
   check = { cmd_check },
}

-- ===========================================================================
-- run: each sysbench event is one query stream
-- ===========================================================================
-- per-thread slot layout (doubles)
local S_SUM, S_OK, S_FAIL, S_MIN, S_MAX = 0, 22, 44, 66, 88 -- + (query - 1)
local S_STREAMS, S_T_START, S_T_END, S_RECONN = 110, 111, 112, 113
local S_Q_OK, S_Q_FAIL = 114, 115

local drv, con, slot, sf, selected, my_streams

local function parse_queries(s)
   local sel = {}
   local n = 0
   if s == nil or s:match("^%s*$") or s:lower() == "all" then
      for q = 1, QS.COUNT do sel[q] = true end
      return sel, QS.COUNT
   end
   for tok in s:gmatch("[^,%s]+") do
      local q = tonumber(tok)
      if q == nil or q < 1 or q > QS.COUNT or q ~= floor(q) then
         fail(fmt("--queries: invalid query number '%s' (expected 1..22)", tok))
      end
      if not sel[q] then n = n + 1 end
      sel[q] = true
   end
   if n == 0 then fail("--queries selects no query") end
   return sel, n
end

-- Session settings applied to every (re)connection
local function setup_session(c)
   local o = opts()
   if o.query_timeout and o.query_timeout > 0 then
      local v = tostring(c:query_row("SELECT VERSION()") or "")
      if v:find("MariaDB") then
         c:query(fmt("SET SESSION max_statement_time = %g", o.query_timeout))
      else
         c:query(fmt("SET SESSION max_execution_time = %d",
                     floor(o.query_timeout * 1000)))
      end
   end
end

function init()
   local o = opts()
   check_scale(o.scale)
   parse_queries(o.queries)
   if o.streams < 0 or o.streams ~= floor(o.streams) then
      fail("--streams must be an integer >= 0")
   end
   if o.threads > MAX_SLOTS then
      fail(fmt("at most %d threads are supported", MAX_SLOTS))
   end
   -- sanity: the tables must exist
   local d = sysbench.sql.driver()
   local c = d:connect()
   local ok, n = pcall(c.query_row, c, "SELECT COUNT(*) FROM region")
   c:disconnect()
   if not ok or tonumber(n) ~= 5 then
      fail("TPC-H tables not found or incomplete (did you run 'prepare'?)")
   end
end

function thread_init()
   local o = opts()
   sf = o.scale
   selected = parse_queries(o.queries)
   drv = sysbench.sql.driver()
   con = drv:connect()
   setup_session(con)
   slot = shm.slot(sysbench.tid)
   slot[S_T_START] = now()
   my_streams = 0
end

function thread_done()
   if slot then slot[S_T_END] = now() end
   if con then pcall(con.disconnect, con) end
end

-- Replace a lost connection (see tpcc_common.lua); gives up after the
-- --time limit, if any.
local function reconnect()
   pcall(con.disconnect, con)
   local tl = sysbench.opt.time
   local deadline = (tl and tl > 0) and (slot[S_T_START] + tl) or nil
   local pause = 0.1
   while true do
      local ok, c = pcall(drv.connect, drv)
      if ok and c ~= nil then
         local ok2 = pcall(setup_session, c)
         if ok2 then
            con = c
            slot[S_RECONN] = slot[S_RECONN] + 1
            return true
         end
      end
      if deadline and now() > deadline then return false end
      sleep(pause)
      pause = math.min(1, pause * 2)
   end
end

local function record(q, ok, dt)
   local i = q - 1
   if ok then
      slot[S_SUM + i] = slot[S_SUM + i] + dt
      slot[S_OK + i] = slot[S_OK + i] + 1
      if slot[S_MIN + i] == 0 or dt < slot[S_MIN + i] then slot[S_MIN + i] = dt end
      if dt > slot[S_MAX + i] then slot[S_MAX + i] = dt end
      slot[S_Q_OK] = slot[S_Q_OK] + 1
   else
      slot[S_FAIL + i] = slot[S_FAIL + i] + 1
      slot[S_Q_FAIL] = slot[S_Q_FAIL] + 1
   end
end

function event()
   local o = sysbench.opt
   if o.streams > 0 and my_streams >= o.streams then
      return true -- this thread has run its streams: stop it
   end
   local stream = sysbench.tid + my_streams * o.threads
   my_streams = my_streams + 1
   local t_stream = now()
   local nok, nfail = 0, 0
   for _, q in ipairs(QS.stream_order(stream)) do
      if selected[q] then
         local sql = QS.query(q, sf)
         local t0 = now()
         local ok, rs = pcall(con.query, con, sql)
         local dt = now() - t0
         if ok then
            local rows = (rs ~= nil) and tonumber(rs.nrows) or 0
            if rs ~= nil then pcall(rs.free, rs) end
            nok = nok + 1
            record(q, true, dt)
            out(fmt("Query %d completed - Time: %.3fs stream: %d rows: %d",
                    q, dt, stream, rows))
         else
            nfail = nfail + 1
            record(q, false, dt)
            local e, msg = err_info(rs)
            out(fmt("Query %d failed - Time: %.3fs stream: %d errno: %d " ..
                       "error: %s", q, dt, stream, e,
                    (msg or ""):gsub("[\r\n]+", " ")))
            if CONN_ERRORS[e] then
               if not reconnect() then break end
            end
         end
      end
   end
   slot[S_STREAMS] = slot[S_STREAMS] + 1
   out(fmt("Stream %d completed - Time: %.3fs queries: %d failed: %d",
           stream, now() - t_stream, nok, nfail))
end

-- ===========================================================================
-- Reports
-- ===========================================================================
local function totals()
   local threads = sysbench.opt.threads
   local t = { sum = {}, ok = {}, fail = {}, min = {}, max = {}, streams = 0,
               reconn = 0, q_ok = 0, q_fail = 0 }
   for q = 1, QS.COUNT do
      t.sum[q], t.ok[q], t.fail[q], t.min[q], t.max[q] = 0, 0, 0, 0, 0
   end
   for i = 0, threads - 1 do
      local s = shm.slot(i)
      for q = 1, QS.COUNT do
         local k = q - 1
         t.sum[q] = t.sum[q] + s[S_SUM + k]
         t.ok[q] = t.ok[q] + s[S_OK + k]
         t.fail[q] = t.fail[q] + s[S_FAIL + k]
         if s[S_OK + k] > 0 then
            if t.min[q] == 0 or s[S_MIN + k] < t.min[q] then t.min[q] = s[S_MIN + k] end
            if s[S_MAX + k] > t.max[q] then t.max[q] = s[S_MAX + k] end
         end
      end
      t.streams = t.streams + s[S_STREAMS]
      t.reconn = t.reconn + s[S_RECONN]
      t.q_ok = t.q_ok + s[S_Q_OK]
      t.q_fail = t.q_fail + s[S_Q_FAIL]
      if s[S_T_START] > 0 and (t.tstart == nil or s[S_T_START] < t.tstart) then
         t.tstart = s[S_T_START]
      end
      if s[S_T_END] > 0 and (t.tend == nil or s[S_T_END] > t.tend) then
         t.tend = s[S_T_END]
      end
   end
   return t
end

local prev = { q_ok = 0, q_fail = 0, reconn = 0 }

function sysbench.hooks.report_intermediate(stat)
   opts()
   local t = totals()
   out(standard_line(stat, t.reconn - prev.reconn))
   out(fmt("[ %.0fs ] queries: %d failed: %d", stat.time_total,
           t.q_ok - prev.q_ok, t.q_fail - prev.q_fail))
   prev = { q_ok = t.q_ok, q_fail = t.q_fail, reconn = t.reconn }
end

function done()
   if sysbench.cmdline.command ~= "run" then return end
   local o = opts()
   local t = totals()
   local elapsed = (t.tstart and t.tend) and (t.tend - t.tstart) or 0
   out("")
   out(fmt("TPC-H results: scale: %g threads: %d streams: %d elapsed: %.3f",
           o.scale, o.threads, t.streams, elapsed))
   local logsum, nq, total = 0, 0, 0
   for q = 1, QS.COUNT do
      if t.ok[q] + t.fail[q] > 0 then
         local avg = (t.ok[q] > 0) and (t.sum[q] / t.ok[q]) or 0
         out(fmt("Q%d count: %d failed: %d avg: %.3f min: %.3f max: %.3f",
                 q, t.ok[q], t.fail[q], avg, t.min[q], t.max[q]))
         total = total + t.sum[q]
         if t.ok[q] > 0 then
            logsum = logsum + math.log(math.max(avg, 0.001))
            nq = nq + 1
         end
      end
   end
   out(fmt("Streams: %d, Queries: %d, Failed: %d, Reconnects: %d",
           t.streams, t.q_ok, t.q_fail, t.reconn))
   out(fmt("TotalQueryTime: %.3f", total))
   out(fmt("GeoMean: %.4f", nq > 0 and math.exp(logsum / nq) or 0))
end
