-- OceanBase test double, 3.x flavour (dbpecker). NOT OceanBase: a MariaDB schema named
-- `oceanbase` whose views carry OceanBase 3.x's names and column names, so that the SQL of
-- config/catalog/oceanbase3.yaml runs unchanged on MariaDB 10.11. See tests/data/ob_double/README.md.
--
-- Load:   mariadb < schema3.sql && mariadb < tick.sql
-- It DROPS and recreates the schema `oceanbase` (only on a test server). The schema name appears
-- only on the three lines below; to load the double under another name, change them
-- (e.g. sed '1,/^USE oceanbase;/s/oceanbase/other/g'), but the catalogs' SQL expects `oceanbase`.
DROP DATABASE IF EXISTS oceanbase;
CREATE DATABASE oceanbase DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
USE oceanbase;


-- ---------------------------------------------------------------------------------------------
-- Internal tables of the OceanBase test double (prefix dbp_double_). The OceanBase-named views
-- below read them; tick.sql's procedures change them.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE dbp_double_state (
  id   TINYINT NOT NULL PRIMARY KEY,
  tick BIGINT  NOT NULL
) ENGINE=InnoDB;
INSERT INTO dbp_double_state VALUES (1, 0);

-- one row per statistic the double knows; behaviour is what the value really does
-- (counter = only grows until a restart, gauge = moves both ways), value_type is what
-- OceanBase reports in VALUE_TYPE (they differ for active sessions, worker time, cpu time, ...)
CREATE TABLE dbp_double_statname (
  statistic_no INT         NOT NULL,
  stat_id      BIGINT      NOT NULL,
  name         VARCHAR(64) NOT NULL,
  class        BIGINT      NOT NULL,
  value_type   VARCHAR(16) NOT NULL,
  behaviour    ENUM('counter','gauge') NOT NULL,
  base         BIGINT      NOT NULL,
  step         BIGINT      NOT NULL,
  PRIMARY KEY (name)
) ENGINE=InnoDB;

CREATE TABLE dbp_double_server (
  svr_no     INT          NOT NULL PRIMARY KEY,
  svr_ip     VARCHAR(46)  NOT NULL,
  svr_port   BIGINT       NOT NULL,
  sql_port   BIGINT       NOT NULL,
  zone       VARCHAR(128) NOT NULL,
  status     VARCHAR(16)  NOT NULL,
  is_local   TINYINT      NOT NULL,
  with_rs    TINYINT      NOT NULL,
  UNIQUE KEY (svr_ip, svr_port)
) ENGINE=InnoDB;

-- tenants; listed = 0 for internal tenants (500) that have statistics but are not in the tenant views
CREATE TABLE dbp_double_tenant (
  tenant_id   BIGINT       NOT NULL PRIMARY KEY,
  tenant_name VARCHAR(128) NOT NULL,
  tenant_type VARCHAR(8)   NOT NULL,
  listed      TINYINT      NOT NULL
) ENGINE=InnoDB;

CREATE TABLE dbp_double_stat (
  con_id   BIGINT      NOT NULL,
  svr_ip   VARCHAR(46) NOT NULL,
  svr_port BIGINT      NOT NULL,
  name     VARCHAR(64) NOT NULL,
  value    BIGINT      NOT NULL,
  PRIMARY KEY (con_id, svr_ip, svr_port, name)
) ENGINE=InnoDB;

-- 125 statistics: every metric of oceanbase3.yaml that a 3.x observer defines, plus
-- statistics no catalog lists (to check that the catalog query filters them out).
INSERT INTO dbp_double_statname (statistic_no, stat_id, name, class, value_type, behaviour, base, step) VALUES
  (0, 10000, 'rpc packet in', 1, 'ADD_VALUE', 'counter', 1100000, 1),
  (1, 10001, 'rpc packet in bytes', 1, 'ADD_VALUE', 'counter', 1100010, 4096),
  (2, 10002, 'rpc packet out', 1, 'ADD_VALUE', 'counter', 1100020, 1),
  (3, 10003, 'rpc packet out bytes', 1, 'ADD_VALUE', 'counter', 1100030, 4096),
  (4, 10004, 'rpc deliver fail', 1, 'ADD_VALUE', 'counter', 1100040, 1),
  (5, 10005, 'rpc net delay', 1, 'ADD_VALUE', 'counter', 1100050, 250),
  (6, 10006, 'rpc net frame delay', 1, 'ADD_VALUE', 'counter', 1100060, 250),
  (7, 10007, 'mysql packet in', 1, 'ADD_VALUE', 'counter', 1100070, 1),
  (8, 10008, 'mysql packet in bytes', 1, 'ADD_VALUE', 'counter', 1100080, 4096),
  (9, 10009, 'mysql packet out', 1, 'ADD_VALUE', 'counter', 1100090, 1),
  (10, 10010, 'mysql packet out bytes', 1, 'ADD_VALUE', 'counter', 1100100, 4096),
  (11, 10011, 'mysql deliver fail', 1, 'ADD_VALUE', 'counter', 1100110, 1),
  (12, 10012, 'rpc compress original packet cnt', 1, 'ADD_VALUE', 'counter', 1100120, 1),
  (13, 10013, 'rpc compress compressed packet cnt', 1, 'ADD_VALUE', 'counter', 1100130, 1),
  (14, 10014, 'rpc compress original size', 1, 'ADD_VALUE', 'counter', 1100140, 1),
  (15, 10015, 'rpc compress compressed size', 1, 'ADD_VALUE', 'counter', 1100150, 1),
  (16, 20000, 'request enqueue count', 2, 'ADD_VALUE', 'counter', 1200000, 1),
  (17, 20001, 'request dequeue count', 2, 'ADD_VALUE', 'counter', 1200010, 1),
  (18, 20002, 'request queue time', 2, 'ADD_VALUE', 'counter', 1200020, 250),
  (19, 30000, 'trans commit log sync time', 4, 'ADD_VALUE', 'counter', 1300000, 250),
  (20, 30001, 'trans commit log sync count', 4, 'ADD_VALUE', 'counter', 1300010, 1),
  (21, 30002, 'trans commit log submit count', 4, 'ADD_VALUE', 'counter', 1300020, 1),
  (22, 30003, 'trans system trans count', 4, 'ADD_VALUE', 'counter', 1300030, 1),
  (23, 30004, 'trans user trans count', 4, 'ADD_VALUE', 'counter', 1300040, 1),
  (24, 30005, 'trans start count', 4, 'ADD_VALUE', 'counter', 1300050, 1),
  (25, 30006, 'trans total used time', 4, 'ADD_VALUE', 'counter', 1300060, 250),
  (26, 30007, 'trans commit count', 4, 'ADD_VALUE', 'counter', 1300070, 1),
  (27, 30008, 'trans commit time', 4, 'ADD_VALUE', 'counter', 1300080, 250),
  (28, 30009, 'trans rollback count', 4, 'ADD_VALUE', 'counter', 1300090, 1),
  (29, 30010, 'trans rollback time', 4, 'ADD_VALUE', 'counter', 1300100, 250),
  (30, 30011, 'trans timeout count', 4, 'ADD_VALUE', 'counter', 1300110, 1),
  (31, 30012, 'trans single partition count', 4, 'ADD_VALUE', 'counter', 1300120, 1),
  (32, 30013, 'trans multi partition count', 4, 'ADD_VALUE', 'counter', 1300130, 1),
  (33, 30017, 'trans without participant count', 4, 'ADD_VALUE', 'counter', 1300170, 1),
  (34, 30018, 'redo log replay count', 4, 'ADD_VALUE', 'counter', 1300180, 1),
  (35, 30019, 'redo log replay time', 4, 'ADD_VALUE', 'counter', 1300190, 1),
  (36, 30020, 'prepare log replay count', 4, 'ADD_VALUE', 'counter', 1300200, 1),
  (37, 30022, 'commit log replay count', 4, 'ADD_VALUE', 'counter', 1300220, 1),
  (38, 30053, 'gts request total count', 4, 'ADD_VALUE', 'counter', 1300530, 1),
  (39, 30054, 'gts acquire total time', 4, 'ADD_VALUE', 'counter', 1300540, 1),
  (40, 40000, 'sql select count', 8, 'ADD_VALUE', 'counter', 1400000, 1),
  (41, 40001, 'sql select time', 8, 'ADD_VALUE', 'counter', 1400010, 250),
  (42, 40002, 'sql insert count', 8, 'ADD_VALUE', 'counter', 1400020, 1),
  (43, 40003, 'sql insert time', 8, 'ADD_VALUE', 'counter', 1400030, 250),
  (44, 40004, 'sql replace count', 8, 'ADD_VALUE', 'counter', 1400040, 1),
  (45, 40006, 'sql update count', 8, 'ADD_VALUE', 'counter', 1400060, 1),
  (46, 40007, 'sql update time', 8, 'ADD_VALUE', 'counter', 1400070, 250),
  (47, 40008, 'sql delete count', 8, 'ADD_VALUE', 'counter', 1400080, 1),
  (48, 40009, 'sql delete time', 8, 'ADD_VALUE', 'counter', 1400090, 250),
  (49, 40010, 'sql local count', 8, 'ADD_VALUE', 'counter', 1400100, 1),
  (50, 40011, 'sql remote count', 8, 'ADD_VALUE', 'counter', 1400110, 1),
  (51, 40012, 'sql distributed count', 8, 'ADD_VALUE', 'counter', 1400120, 1),
  (52, 40013, 'active sessions', 8, 'ADD_VALUE', 'gauge', 10, 1),
  (53, 40014, 'single query count', 8, 'ADD_VALUE', 'counter', 1400140, 1),
  (54, 40015, 'multiple query count', 8, 'ADD_VALUE', 'counter', 1400150, 1),
  (55, 40018, 'sql other count', 8, 'ADD_VALUE', 'counter', 1400180, 1),
  (56, 40020, 'ps prepare count', 8, 'ADD_VALUE', 'counter', 1400200, 1),
  (57, 40022, 'ps execute count', 8, 'ADD_VALUE', 'counter', 1400220, 1),
  (58, 40030, 'opened cursors current', 8, 'ADD_VALUE', 'gauge', 10, 1),
  (59, 40100, 'sql inner select count', 8, 'ADD_VALUE', 'counter', 1401000, 1),
  (60, 40102, 'sql inner insert count', 8, 'ADD_VALUE', 'counter', 1401020, 1),
  (61, 40106, 'sql inner update count', 8, 'ADD_VALUE', 'counter', 1401060, 1),
  (62, 40108, 'sql inner delete count', 8, 'ADD_VALUE', 'counter', 1401080, 1),
  (63, 40113, 'user logouts cumulative', 8, 'ADD_VALUE', 'counter', 1401130, 1),
  (64, 50000, 'row cache hit', 16, 'ADD_VALUE', 'counter', 1500000, 1),
  (65, 50001, 'row cache miss', 16, 'ADD_VALUE', 'counter', 1500010, 1),
  (66, 50002, 'block index cache hit', 16, 'ADD_VALUE', 'counter', 1500020, 1),
  (67, 50003, 'block index cache miss', 16, 'ADD_VALUE', 'counter', 1500030, 1),
  (68, 50004, 'bloom filter cache hit', 16, 'ADD_VALUE', 'counter', 1500040, 1),
  (69, 50005, 'bloom filter cache miss', 16, 'ADD_VALUE', 'counter', 1500050, 1),
  (70, 50008, 'block cache hit', 16, 'ADD_VALUE', 'counter', 1500080, 1),
  (71, 50009, 'block cache miss', 16, 'ADD_VALUE', 'counter', 1500090, 1),
  (72, 50010, 'location cache hit', 16, 'ADD_VALUE', 'counter', 1500100, 1),
  (73, 50011, 'location cache miss', 16, 'ADD_VALUE', 'counter', 1500110, 1),
  (74, 50033, 'fuse row cache hit', 16, 'ADD_VALUE', 'counter', 1500330, 1),
  (75, 50034, 'fuse row cache miss', 16, 'ADD_VALUE', 'counter', 1500340, 1),
  (76, 50035, 'schema cache hit', 16, 'ADD_VALUE', 'counter', 1500350, 1),
  (77, 50037, 'clog cache hit', 16, 'ADD_VALUE', 'counter', 1500370, 1),
  (78, 60000, 'io read count', 32, 'ADD_VALUE', 'counter', 1600000, 1),
  (79, 60001, 'io read delay', 32, 'ADD_VALUE', 'counter', 1600010, 250),
  (80, 60002, 'io read bytes', 32, 'ADD_VALUE', 'counter', 1600020, 4096),
  (81, 60003, 'io write count', 32, 'ADD_VALUE', 'counter', 1600030, 1),
  (82, 60004, 'io write delay', 32, 'ADD_VALUE', 'counter', 1600040, 250),
  (83, 60005, 'io write bytes', 32, 'ADD_VALUE', 'counter', 1600050, 4096),
  (84, 60006, 'memstore scan count', 32, 'ADD_VALUE', 'counter', 1600060, 1),
  (85, 60009, 'memstore get count', 32, 'ADD_VALUE', 'counter', 1600090, 1),
  (86, 60019, 'memstore read lock succ count', 32, 'ADD_VALUE', 'counter', 1600190, 1),
  (87, 60020, 'memstore read lock fail count', 32, 'ADD_VALUE', 'counter', 1600200, 1),
  (88, 60021, 'memstore write lock succ count', 32, 'ADD_VALUE', 'counter', 1600210, 1),
  (89, 60022, 'memstore write lock fail count', 32, 'ADD_VALUE', 'counter', 1600220, 1),
  (90, 60023, 'memstore wait write lock time', 32, 'ADD_VALUE', 'counter', 1600230, 250),
  (91, 60024, 'memstore wait read lock time', 32, 'ADD_VALUE', 'counter', 1600240, 250),
  (92, 60031, 'storage read row count', 32, 'ADD_VALUE', 'counter', 1600310, 1),
  (93, 60039, 'io read queue delay', 32, 'ADD_VALUE', 'counter', 1600390, 1),
  (94, 60056, 'memstore read row count', 32, 'ADD_VALUE', 'counter', 1600560, 1),
  (95, 60057, 'ssstore read row count', 32, 'ADD_VALUE', 'counter', 1600570, 1),
  (96, 60083, 'memstore write lock wait timeout count', 32, 'ADD_VALUE', 'counter', 1600830, 1),
  (97, 70000, 'refresh schema count', 128, 'ADD_VALUE', 'counter', 1700000, 1),
  (98, 80005, 'clog flushed count', 256, 'ADD_VALUE', 'counter', 1800050, 1),
  (99, 80040, 'clog write count', 256, 'ADD_VALUE', 'counter', 1800400, 1),
  (100, 80041, 'clog write time', 256, 'ADD_VALUE', 'counter', 1800410, 250),
  (101, 80057, 'clog trans log total size', 256, 'ADD_VALUE', 'counter', 1800570, 4096),
  (102, 110015, 'success rpc process', 2048, 'ADD_VALUE', 'counter', 2100150, 1),
  (103, 120002, 'index clog cache size', 16, 'SET_VALUE', 'gauge', 2147483648, 1048576),
  (104, 120006, 'user block cache size', 16, 'SET_VALUE', 'gauge', 6442450944, 1048576),
  (105, 120008, 'user row cache size', 16, 'SET_VALUE', 'gauge', 1073741824, 1048576),
  (106, 130000, 'active memstore used', 32, 'SET_VALUE', 'gauge', 4294967296, 1048576),
  (107, 130001, 'total memstore used', 32, 'SET_VALUE', 'gauge', 5368709120, 1048576),
  (108, 130002, 'major freeze trigger', 32, 'SET_VALUE', 'gauge', 6442450944, 1048576),
  (109, 130004, 'memstore limit', 32, 'SET_VALUE', 'gauge', 1073741824, 1048576),
  (110, 140001, 'min memory size', 64, 'SET_VALUE', 'gauge', 2147483648, 1048576),
  (111, 140002, 'max memory size', 64, 'SET_VALUE', 'gauge', 3221225472, 1048576),
  (112, 140003, 'memory usage', 64, 'SET_VALUE', 'gauge', 4294967296, 1048576),
  (113, 140004, 'min cpus', 64, 'SET_VALUE', 'gauge', 100, 5),
  (114, 140005, 'max cpus', 64, 'SET_VALUE', 'gauge', 200, 5),
  (115, 140006, 'cpu usage', 64, 'SET_VALUE', 'gauge', 300, 5),
  (116, 140007, 'disk usage', 64, 'SET_VALUE', 'gauge', 1073741824, 1048576),
  (117, 140008, 'observer memory used size', 64, 'SET_VALUE', 'gauge', 2147483648, 1048576),
  (118, 140009, 'observer memory free size', 64, 'SET_VALUE', 'gauge', 3221225472, 1048576),
  (119, 140011, 'observer memory hold size', 64, 'SET_VALUE', 'gauge', 5368709120, 1048576),
  (120, 160001, 'oblogger log bytes', 128, 'SET_VALUE', 'gauge', 3221225472, 1048576),
  (121, 200001, 'DB time', 3072, 'ADD_VALUE', 'counter', 3000010, 250),
  (122, 200002, 'DB CPU', 3072, 'ADD_VALUE', 'counter', 3000020, 250),
  (123, 200003, 'DB inner sql time', 3072, 'ADD_VALUE', 'counter', 3000030, 250),
  (124, 200006, 'background cpu time', 3072, 'ADD_VALUE', 'counter', 3000060, 250);

-- three observers: these addresses are only strings, nothing connects to them
INSERT INTO dbp_double_server VALUES
  (1, '10.0.0.1', 2882, 2881, 'zone1', 'active', 1, 1),
  (2, '10.0.0.2', 2882, 2881, 'zone2', 'active', 0, 0),
  (3, '10.0.0.3', 2882, 2881, 'zone3', 'active', 0, 0);

-- 3.x: sys (1), user tenant t1 (1001), internal tenant 500 (statistics only)
INSERT INTO dbp_double_tenant VALUES (1, 'sys', 'SYS', 1), (500, 'OB_INTERNAL', 'SYS', 0),
  (1001, 't1', 'USER', 1);

-- one row per (tenant, server, statistic); deterministic starting values
INSERT INTO dbp_double_stat (con_id, svr_ip, svr_port, name, value)
SELECT t.tenant_id, v.svr_ip, v.svr_port, n.name,
       CASE WHEN n.behaviour = 'counter'
            THEN n.base + t.tenant_id * 1000 + v.svr_no * 100000
            ELSE n.base + MOD(n.stat_id * 13 + v.svr_no * 7 + t.tenant_id, 50) * n.step END
FROM dbp_double_tenant t CROSS JOIN dbp_double_server v CROSS JOIN dbp_double_statname n;

-- ---------------------------------------------------------------------------------------------
-- OceanBase 3.x views (names and columns as in 3.x; upper-case aliases as OceanBase accepts both).
-- 3.x gv$sysstat has no VALUE_TYPE column.
-- ---------------------------------------------------------------------------------------------
CREATE VIEW `gv$sysstat` AS
SELECT s.con_id AS CON_ID, s.svr_ip AS SVR_IP, s.svr_port AS SVR_PORT, n.statistic_no AS `STATISTIC#`,
       n.name AS NAME, n.class AS CLASS, s.value AS VALUE, n.stat_id AS STAT_ID
FROM dbp_double_stat s JOIN dbp_double_statname n ON n.name = s.name;

-- v$ = the node this session is connected to: the double's "local" server is 10.0.0.1
CREATE VIEW `v$sysstat` AS
SELECT g.* FROM `gv$sysstat` g JOIN dbp_double_server v ON v.svr_ip = g.SVR_IP AND v.svr_port = g.SVR_PORT
WHERE v.is_local = 1;

-- upper-case aliases, defined on the base tables (MariaDB takes a view on a view whose name
-- differs only in case for a recursion)
CREATE VIEW `GV$SYSSTAT` AS
SELECT s.con_id AS CON_ID, s.svr_ip AS SVR_IP, s.svr_port AS SVR_PORT, n.statistic_no AS `STATISTIC#`,
       n.name AS NAME, n.class AS CLASS, s.value AS VALUE, n.stat_id AS STAT_ID
FROM dbp_double_stat s JOIN dbp_double_statname n ON n.name = s.name;

CREATE VIEW `V$SYSSTAT` AS
SELECT s.con_id AS CON_ID, s.svr_ip AS SVR_IP, s.svr_port AS SVR_PORT, n.statistic_no AS `STATISTIC#`,
       n.name AS NAME, n.class AS CLASS, s.value AS VALUE, n.stat_id AS STAT_ID
FROM dbp_double_stat s JOIN dbp_double_statname n ON n.name = s.name
JOIN dbp_double_server v ON v.svr_ip = s.svr_ip AND v.svr_port = s.svr_port
WHERE v.is_local = 1;

CREATE VIEW __all_tenant AS
SELECT CAST('2024-01-01 00:00:00' AS DATETIME(6)) AS gmt_create, CAST('2024-01-01 00:00:00' AS DATETIME(6)) AS gmt_modified,
       tenant_id, tenant_name, 'zone1;zone2;zone3' AS zone_list, 'zone1' AS primary_zone, 0 AS locked,
       45 AS collation_type, '' AS info, 0 AS read_only, 'FULL{1}@zone1, FULL{1}@zone2, FULL{1}@zone3' AS locality,
       0 AS compatibility_mode, 'TENANT_STATUS_NORMAL' AS status, 0 AS in_recyclebin
FROM dbp_double_tenant WHERE listed = 1;

CREATE VIEW __all_server AS
SELECT CAST('2024-01-01 00:00:00' AS DATETIME(6)) AS gmt_create, CAST('2024-01-01 00:00:00' AS DATETIME(6)) AS gmt_modified,
       svr_ip, svr_port, svr_no AS id, zone, sql_port AS inner_port, with_rs AS with_rootserver, status,
       0 AS block_migrate_in_time, '3.1.5_10500032023012714-test-double' AS build_version, 0 AS stop_time,
       1704067200000000 AS start_service_time, 0 AS last_offline_time
FROM dbp_double_server;
