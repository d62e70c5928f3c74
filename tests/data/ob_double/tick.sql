-- OceanBase test double (dbpecker): procedures that make the double's statistics move.
-- Load after schema4.sql or schema3.sql (both share the internal dbp_double_* tables):
--   mariadb < tick.sql
-- CALL oceanbase.dbp_double_tick();              every counter grows by a deterministic amount
--                                                that varies with statistic, tenant, server and
--                                                tick; every gauge is set to a new value
-- CALL oceanbase.dbp_double_restart('10.0.0.2'); that observer "restarts": its counters fall back
--                                                to small values (a counter reset)
-- "counter"/"gauge" here is the statistic's real behaviour (dbp_double_statname.behaviour), not
-- its VALUE_TYPE: active sessions (ADD_VALUE) moves both ways, worker time (SET_VALUE) only grows.
USE oceanbase;

DROP PROCEDURE IF EXISTS dbp_double_tick;
DROP PROCEDURE IF EXISTS dbp_double_restart;

DELIMITER //

CREATE PROCEDURE dbp_double_tick()
  MODIFIES SQL DATA
  COMMENT 'OceanBase test double: advance counters, move gauges'
BEGIN
  DECLARE t BIGINT;
  UPDATE dbp_double_state SET tick = tick + 1 WHERE id = 1;
  SELECT tick INTO t FROM dbp_double_state WHERE id = 1;
  UPDATE dbp_double_stat s
    JOIN dbp_double_statname n ON n.name = s.name
    JOIN dbp_double_server v ON v.svr_ip = s.svr_ip AND v.svr_port = s.svr_port
  SET s.value = CASE
      WHEN n.behaviour = 'counter'
        -- always > 0, varies from tick to tick
        THEN s.value + (1 + MOD(n.stat_id * 31 + t * 17 + s.con_id * 7 + v.svr_no * 13, 97)) * n.step
        -- 29 and 50 are coprime, so a gauge never keeps its value from one tick to the next
        ELSE n.base + MOD(n.stat_id * 13 + t * 29 + v.svr_no * 7 + s.con_id, 50) * n.step
      END;
END //

CREATE PROCEDURE dbp_double_restart(ip VARCHAR(64))
  MODIFIES SQL DATA
  COMMENT 'OceanBase test double: reset one observer''s counters (restart)'
BEGIN
  DECLARE n_rows BIGINT;
  UPDATE dbp_double_stat s
    JOIN dbp_double_statname n ON n.name = s.name
  SET s.value = MOD(n.stat_id, 10) + 1
  WHERE s.svr_ip = ip AND n.behaviour = 'counter';
  SET n_rows = ROW_COUNT();
  IF n_rows = 0 THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'dbp_double_restart: no such observer in the test double';
  END IF;
END //

DELIMITER ;
