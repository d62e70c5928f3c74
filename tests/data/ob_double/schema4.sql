-- OceanBase test double, 4.x flavour (dbpecker). NOT OceanBase: a MariaDB schema named
-- `oceanbase` whose views carry OceanBase 4.x's names and column names, so that the SQL of
-- config/catalog/oceanbase4.yaml runs unchanged on MariaDB 10.11. See tests/data/ob_double/README.md.
--
-- Load:   mariadb < schema4.sql && mariadb < tick.sql
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

-- 148 statistics: every metric of oceanbase4.yaml that a 4.x observer defines, plus
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
  (31, 30012, 'trans local trans count', 4, 'ADD_VALUE', 'counter', 1300120, 1),
  (32, 30013, 'trans distribute trans count', 4, 'ADD_VALUE', 'counter', 1300130, 1),
  (33, 30017, 'trans without participant count', 4, 'ADD_VALUE', 'counter', 1300170, 1),
  (34, 30018, 'redo log replay count', 4, 'ADD_VALUE', 'counter', 1300180, 1),
  (35, 30019, 'redo log replay time', 4, 'ADD_VALUE', 'counter', 1300190, 1),
  (36, 30020, 'prepare log replay count', 4, 'ADD_VALUE', 'counter', 1300200, 1),
  (37, 30022, 'commit log replay count', 4, 'ADD_VALUE', 'counter', 1300220, 1),
  (38, 30053, 'gts request total count', 4, 'ADD_VALUE', 'counter', 1300530, 1),
  (39, 30054, 'gts acquire total time', 4, 'ADD_VALUE', 'counter', 1300540, 1),
  (40, 30080, 'local trans total used time', 4, 'ADD_VALUE', 'counter', 1300800, 250),
  (41, 30081, 'distributed trans total used time', 4, 'ADD_VALUE', 'counter', 1300810, 250),
  (42, 40000, 'sql select count', 8, 'ADD_VALUE', 'counter', 1400000, 1),
  (43, 40001, 'sql select time', 8, 'ADD_VALUE', 'counter', 1400010, 250),
  (44, 40002, 'sql insert count', 8, 'ADD_VALUE', 'counter', 1400020, 1),
  (45, 40003, 'sql insert time', 8, 'ADD_VALUE', 'counter', 1400030, 250),
  (46, 40004, 'sql replace count', 8, 'ADD_VALUE', 'counter', 1400040, 1),
  (47, 40006, 'sql update count', 8, 'ADD_VALUE', 'counter', 1400060, 1),
  (48, 40007, 'sql update time', 8, 'ADD_VALUE', 'counter', 1400070, 250),
  (49, 40008, 'sql delete count', 8, 'ADD_VALUE', 'counter', 1400080, 1),
  (50, 40009, 'sql delete time', 8, 'ADD_VALUE', 'counter', 1400090, 250),
  (51, 40010, 'sql local count', 8, 'ADD_VALUE', 'counter', 1400100, 1),
  (52, 40011, 'sql remote count', 8, 'ADD_VALUE', 'counter', 1400110, 1),
  (53, 40012, 'sql distributed count', 8, 'ADD_VALUE', 'counter', 1400120, 1),
  (54, 40013, 'active sessions', 8, 'ADD_VALUE', 'gauge', 10, 1),
  (55, 40014, 'single query count', 8, 'ADD_VALUE', 'counter', 1400140, 1),
  (56, 40015, 'multiple query count', 8, 'ADD_VALUE', 'counter', 1400150, 1),
  (57, 40018, 'sql other count', 8, 'ADD_VALUE', 'counter', 1400180, 1),
  (58, 40020, 'ps prepare count', 8, 'ADD_VALUE', 'counter', 1400200, 1),
  (59, 40022, 'ps execute count', 8, 'ADD_VALUE', 'counter', 1400220, 1),
  (60, 40025, 'sql commit count', 8, 'ADD_VALUE', 'counter', 1400250, 1),
  (61, 40027, 'sql rollback count', 8, 'ADD_VALUE', 'counter', 1400270, 1),
  (62, 40030, 'opened cursors current', 8, 'ADD_VALUE', 'gauge', 10, 1),
  (63, 40100, 'sql inner select count', 8, 'ADD_VALUE', 'counter', 1401000, 1),
  (64, 40102, 'sql inner insert count', 8, 'ADD_VALUE', 'counter', 1401020, 1),
  (65, 40106, 'sql inner update count', 8, 'ADD_VALUE', 'counter', 1401060, 1),
  (66, 40108, 'sql inner delete count', 8, 'ADD_VALUE', 'counter', 1401080, 1),
  (67, 40112, 'user logons cumulative', 8, 'ADD_VALUE', 'counter', 1401120, 1),
  (68, 40113, 'user logouts cumulative', 8, 'ADD_VALUE', 'counter', 1401130, 1),
  (69, 40114, 'user logons failed cumulative', 8, 'ADD_VALUE', 'counter', 1401140, 1),
  (70, 40116, 'sql local execute time', 8, 'ADD_VALUE', 'counter', 1401160, 250),
  (71, 40118, 'sql distributed execute time', 8, 'ADD_VALUE', 'counter', 1401180, 250),
  (72, 40119, 'sql fail count', 8, 'ADD_VALUE', 'counter', 1401190, 1),
  (73, 50000, 'row cache hit', 16, 'ADD_VALUE', 'counter', 1500000, 1),
  (74, 50001, 'row cache miss', 16, 'ADD_VALUE', 'counter', 1500010, 1),
  (75, 50004, 'bloom filter cache hit', 16, 'ADD_VALUE', 'counter', 1500040, 1),
  (76, 50005, 'bloom filter cache miss', 16, 'ADD_VALUE', 'counter', 1500050, 1),
  (77, 50008, 'block cache hit', 16, 'ADD_VALUE', 'counter', 1500080, 1),
  (78, 50009, 'block cache miss', 16, 'ADD_VALUE', 'counter', 1500090, 1),
  (79, 50010, 'location cache hit', 16, 'ADD_VALUE', 'counter', 1500100, 1),
  (80, 50011, 'location cache miss', 16, 'ADD_VALUE', 'counter', 1500110, 1),
  (81, 50033, 'fuse row cache hit', 16, 'ADD_VALUE', 'counter', 1500330, 1),
  (82, 50034, 'fuse row cache miss', 16, 'ADD_VALUE', 'counter', 1500340, 1),
  (83, 50035, 'schema cache hit', 16, 'ADD_VALUE', 'counter', 1500350, 1),
  (84, 60000, 'io read count', 32, 'ADD_VALUE', 'counter', 1600000, 1),
  (85, 60001, 'io read delay', 32, 'ADD_VALUE', 'counter', 1600010, 250),
  (86, 60002, 'io read bytes', 32, 'ADD_VALUE', 'counter', 1600020, 4096),
  (87, 60003, 'io write count', 32, 'ADD_VALUE', 'counter', 1600030, 1),
  (88, 60004, 'io write delay', 32, 'ADD_VALUE', 'counter', 1600040, 250),
  (89, 60005, 'io write bytes', 32, 'ADD_VALUE', 'counter', 1600050, 4096),
  (90, 60006, 'memstore scan count', 32, 'ADD_VALUE', 'counter', 1600060, 1),
  (91, 60009, 'memstore get count', 32, 'ADD_VALUE', 'counter', 1600090, 1),
  (92, 60019, 'memstore read lock succ count', 32, 'ADD_VALUE', 'counter', 1600190, 1),
  (93, 60020, 'memstore read lock fail count', 32, 'ADD_VALUE', 'counter', 1600200, 1),
  (94, 60021, 'memstore write lock succ count', 32, 'ADD_VALUE', 'counter', 1600210, 1),
  (95, 60022, 'memstore write lock fail count', 32, 'ADD_VALUE', 'counter', 1600220, 1),
  (96, 60023, 'memstore wait write lock time', 32, 'ADD_VALUE', 'counter', 1600230, 250),
  (97, 60024, 'memstore wait read lock time', 32, 'ADD_VALUE', 'counter', 1600240, 250),
  (98, 60031, 'storage read row count', 32, 'ADD_VALUE', 'counter', 1600310, 1),
  (99, 60039, 'io read queue delay', 32, 'ADD_VALUE', 'counter', 1600390, 1),
  (100, 60056, 'memstore read row count', 32, 'ADD_VALUE', 'counter', 1600560, 1),
  (101, 60057, 'ssstore read row count', 32, 'ADD_VALUE', 'counter', 1600570, 1),
  (102, 60083, 'memstore write lock wait timeout count', 32, 'ADD_VALUE', 'counter', 1600830, 1),
  (103, 60084, 'accessed data micro block count', 32, 'ADD_VALUE', 'counter', 1600840, 1),
  (104, 60085, 'data micro block cache hit', 32, 'ADD_VALUE', 'counter', 1600850, 1),
  (105, 60086, 'accessed index micro block count', 32, 'ADD_VALUE', 'counter', 1600860, 1),
  (106, 60087, 'index micro block cache hit', 32, 'ADD_VALUE', 'counter', 1600870, 1),
  (107, 60088, 'blockscaned data micro block count', 32, 'ADD_VALUE', 'counter', 1600880, 1),
  (108, 60093, 'storage waiting throttle time', 32, 'ADD_VALUE', 'counter', 1600930, 250),
  (109, 70000, 'refresh schema count', 128, 'ADD_VALUE', 'counter', 1700000, 1),
  (110, 80001, 'palf write io count to disk', 256, 'ADD_VALUE', 'counter', 1800010, 1),
  (111, 80002, 'palf write size to disk', 256, 'ADD_VALUE', 'counter', 1800020, 4096),
  (112, 80003, 'palf write total time to disk', 256, 'ADD_VALUE', 'counter', 1800030, 250),
  (113, 80004, 'palf read count from cache', 256, 'ADD_VALUE', 'counter', 1800040, 1),
  (114, 80057, 'clog trans log total size', 256, 'ADD_VALUE', 'counter', 1800570, 4096),
  (115, 110015, 'success rpc process', 2048, 'ADD_VALUE', 'counter', 2100150, 1),
  (116, 120002, 'table stat cache size', 16, 'SET_VALUE', 'gauge', 2147483648, 1048576),
  (117, 120006, 'user block cache size', 16, 'SET_VALUE', 'gauge', 6442450944, 1048576),
  (118, 120008, 'user row cache size', 16, 'SET_VALUE', 'gauge', 1073741824, 1048576),
  (119, 130000, 'active memstore used', 32, 'SET_VALUE', 'gauge', 4294967296, 1048576),
  (120, 130001, 'total memstore used', 32, 'SET_VALUE', 'gauge', 5368709120, 1048576),
  (121, 130002, 'major freeze trigger', 32, 'SET_VALUE', 'gauge', 6442450944, 1048576),
  (122, 130004, 'memstore limit', 32, 'SET_VALUE', 'gauge', 1073741824, 1048576),
  (123, 140001, 'min memory size', 64, 'SET_VALUE', 'gauge', 2147483648, 1048576),
  (124, 140002, 'max memory size', 64, 'SET_VALUE', 'gauge', 3221225472, 1048576),
  (125, 140003, 'memory usage', 64, 'SET_VALUE', 'gauge', 4294967296, 1048576),
  (126, 140004, 'min cpus', 64, 'SET_VALUE', 'gauge', 100, 5),
  (127, 140005, 'max cpus', 64, 'SET_VALUE', 'gauge', 200, 5),
  (128, 140006, 'cpu usage', 64, 'SET_VALUE', 'gauge', 300, 5),
  (129, 140007, 'disk usage', 64, 'SET_VALUE', 'gauge', 1073741824, 1048576),
  (130, 140008, 'observer memory used size', 64, 'SET_VALUE', 'gauge', 2147483648, 1048576),
  (131, 140009, 'observer memory free size', 64, 'SET_VALUE', 'gauge', 3221225472, 1048576),
  (132, 140011, 'observer memory hold size', 64, 'SET_VALUE', 'gauge', 5368709120, 1048576),
  (133, 140012, 'worker time', 64, 'SET_VALUE', 'counter', 2400120, 250),
  (134, 140013, 'cpu time', 64, 'SET_VALUE', 'counter', 2400130, 250),
  (135, 140017, 'max session num', 64, 'SET_VALUE', 'gauge', 10, 1),
  (136, 160001, 'oblogger log bytes', 128, 'SET_VALUE', 'gauge', 3221225472, 1048576),
  (137, 200001, 'DB time', 3072, 'ADD_VALUE', 'counter', 3000010, 250),
  (138, 200002, 'DB CPU', 3072, 'ADD_VALUE', 'counter', 3000020, 250),
  (139, 200003, 'DB inner sql time', 3072, 'ADD_VALUE', 'counter', 3000030, 250),
  (140, 200006, 'background cpu time', 3072, 'ADD_VALUE', 'counter', 3000060, 250),
  (141, 200010, 'non idle wait time', 3072, 'ADD_VALUE', 'counter', 3000100, 250),
  (142, 200011, 'idle wait time', 3072, 'ADD_VALUE', 'counter', 3000110, 250),
  (143, 220001, 'concurrency wait total time', 3072, 'ADD_VALUE', 'counter', 3200010, 250),
  (144, 220002, 'user io wait total time', 3072, 'ADD_VALUE', 'counter', 3200020, 250),
  (145, 220003, 'application wait total time', 3072, 'ADD_VALUE', 'counter', 3200030, 250),
  (146, 220004, 'schedule wait total time', 3072, 'ADD_VALUE', 'counter', 3200040, 250),
  (147, 220005, 'network wait total time', 3072, 'ADD_VALUE', 'counter', 3200050, 250);

-- three observers: these addresses are only strings, nothing connects to them
INSERT INTO dbp_double_server VALUES
  (1, '10.0.0.1', 2882, 2881, 'zone1', 'ACTIVE', 1, 1),
  (2, '10.0.0.2', 2882, 2881, 'zone2', 'ACTIVE', 0, 0),
  (3, '10.0.0.3', 2882, 2881, 'zone3', 'ACTIVE', 0, 0);

-- 4.x: sys (1), the META tenant (1001) paired with user tenant t1 (1002), internal tenant 500
INSERT INTO dbp_double_tenant VALUES (1, 'sys', 'SYS', 1), (500, 'OB_INTERNAL', 'SYS', 0),
  (1001, 'META$1002', 'META', 1), (1002, 't1', 'USER', 1);

-- one row per (tenant, server, statistic); deterministic starting values
INSERT INTO dbp_double_stat (con_id, svr_ip, svr_port, name, value)
SELECT t.tenant_id, v.svr_ip, v.svr_port, n.name,
       CASE WHEN n.behaviour = 'counter'
            THEN n.base + t.tenant_id * 1000 + v.svr_no * 100000
            ELSE n.base + MOD(n.stat_id * 13 + v.svr_no * 7 + t.tenant_id, 50) * n.step END
FROM dbp_double_tenant t CROSS JOIN dbp_double_server v CROSS JOIN dbp_double_statname n;

-- ---------------------------------------------------------------------------------------------
-- OceanBase 4.x views (names and columns as in 4.x; lower-case aliases as OceanBase accepts both)
-- ---------------------------------------------------------------------------------------------
CREATE VIEW `GV$SYSSTAT` AS
SELECT s.con_id AS CON_ID, s.svr_ip AS SVR_IP, s.svr_port AS SVR_PORT, n.statistic_no AS `STATISTIC#`,
       n.name AS NAME, n.class AS CLASS, s.value AS VALUE, n.value_type AS VALUE_TYPE, n.stat_id AS STAT_ID
FROM dbp_double_stat s JOIN dbp_double_statname n ON n.name = s.name;

-- V$ = the node this session is connected to: the double's "local" server is 10.0.0.1
CREATE VIEW `V$SYSSTAT` AS
SELECT g.* FROM `GV$SYSSTAT` g JOIN dbp_double_server v ON v.svr_ip = g.SVR_IP AND v.svr_port = g.SVR_PORT
WHERE v.is_local = 1;

-- lower-case aliases, defined on the base tables (MariaDB takes a view on a view whose name
-- differs only in case for a recursion)
CREATE VIEW `gv$sysstat` AS
SELECT s.con_id AS CON_ID, s.svr_ip AS SVR_IP, s.svr_port AS SVR_PORT, n.statistic_no AS `STATISTIC#`,
       n.name AS NAME, n.class AS CLASS, s.value AS VALUE, n.value_type AS VALUE_TYPE, n.stat_id AS STAT_ID
FROM dbp_double_stat s JOIN dbp_double_statname n ON n.name = s.name;

CREATE VIEW `v$sysstat` AS
SELECT s.con_id AS CON_ID, s.svr_ip AS SVR_IP, s.svr_port AS SVR_PORT, n.statistic_no AS `STATISTIC#`,
       n.name AS NAME, n.class AS CLASS, s.value AS VALUE, n.value_type AS VALUE_TYPE, n.stat_id AS STAT_ID
FROM dbp_double_stat s JOIN dbp_double_statname n ON n.name = s.name
JOIN dbp_double_server v ON v.svr_ip = s.svr_ip AND v.svr_port = s.svr_port
WHERE v.is_local = 1;

CREATE VIEW DBA_OB_TENANTS AS
SELECT tenant_id AS TENANT_ID, tenant_name AS TENANT_NAME, tenant_type AS TENANT_TYPE,
       CAST('2024-01-01 00:00:00' AS DATETIME(6)) AS CREATE_TIME, CAST('2024-01-01 00:00:00' AS DATETIME(6)) AS MODIFY_TIME,
       'zone1;zone2,zone3' AS PRIMARY_ZONE, 'FULL{1}@zone1, FULL{1}@zone2, FULL{1}@zone3' AS LOCALITY,
       CAST(NULL AS CHAR(128)) AS PREVIOUS_LOCALITY, 'MYSQL' AS COMPATIBILITY_MODE, 'NORMAL' AS STATUS,
       'NO' AS IN_RECYCLEBIN, 'NO' AS LOCKED, 'PRIMARY' AS TENANT_ROLE, 'NORMAL' AS SWITCHOVER_STATUS,
       'NOARCHIVELOG' AS LOG_MODE
FROM dbp_double_tenant WHERE listed = 1;

CREATE VIEW DBA_OB_SERVERS AS
SELECT svr_ip AS SVR_IP, svr_port AS SVR_PORT, svr_no AS ID, zone AS ZONE, sql_port AS SQL_PORT,
       IF(with_rs = 1, 'YES', 'NO') AS WITH_ROOTSERVER, status AS STATUS,
       CAST('2024-01-01 00:00:00' AS DATETIME(6)) AS START_SERVICE_TIME, CAST(NULL AS DATETIME(6)) AS STOP_TIME,
       CAST(NULL AS DATETIME(6)) AS BLOCK_MIGRATE_IN_TIME,
       CAST('2024-01-01 00:00:00' AS DATETIME(6)) AS CREATE_TIME, CAST('2024-01-01 00:00:00' AS DATETIME(6)) AS MODIFY_TIME,
       '4.2.1.2_102000042023120514-test-double' AS BUILD_VERSION, CAST(NULL AS DATETIME(6)) AS LAST_OFFLINE_TIME
FROM dbp_double_server;

CREATE VIEW DBA_OB_ZONES AS
SELECT DISTINCT zone AS ZONE, CAST('2024-01-01 00:00:00' AS DATETIME(6)) AS CREATE_TIME,
       CAST('2024-01-01 00:00:00' AS DATETIME(6)) AS MODIFY_TIME, 'ACTIVE' AS STATUS, 'idc1' AS IDC,
       'region1' AS REGION, 'ReadWrite' AS TYPE
FROM dbp_double_server;
