-- Triggers a DBA adds to the extension's tables: the functions write their rows without a
-- query plan (src/direct.rs), through the executor's row-level entry points, so row triggers
-- fire for them as for an INSERT or UPDATE; a trigger that skips or changes a row the engine
-- applied makes the call fail rather than the ledger and the stock disagree.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS inventory_truth CASCADE;
CREATE EXTENSION inventory_truth;
RESET client_min_messages;
SET search_path = inventory_truth, public;
\set SHOW_CONTEXT never

SELECT add_location('DC1'), add_channel('web');
SELECT count(*) FROM receive('TEE', 'DC1', 10);
SELECT count(*) FROM put_away('TEE', 'DC1', 10);

-- 1. An audit of holds and of the ledger: AFTER row triggers, one of them only for changes
-- of a hold's status (UPDATE OF status).
CREATE TABLE public.audit (what text, ref text);
CREATE FUNCTION public.audit_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.audit VALUES (TG_OP || ' hold ' || NEW.status, NEW.ref);
    RETURN NULL;
END $$;
CREATE FUNCTION public.audit_movement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.audit VALUES ('INSERT movement ' || NEW.from_stage || '->' || NEW.to_stage, NEW.ref);
    RETURN NULL;
END $$;
CREATE TRIGGER audit_new_hold AFTER INSERT ON hold FOR EACH ROW EXECUTE FUNCTION public.audit_hold();
CREATE TRIGGER audit_hold_status AFTER UPDATE OF status ON hold FOR EACH ROW EXECUTE FUNCTION public.audit_hold();
CREATE TRIGGER audit_movement AFTER INSERT ON movement FOR EACH ROW EXECUTE FUNCTION public.audit_movement();
-- A reservation and its release: every row written, each trigger once (no warning at commit).
SELECT reserve('web', 'TEE', 2, 'A-1') > 0 AS reserved;
SELECT release('web', 'A-1') AS released;
SELECT * FROM public.audit ORDER BY what;
DROP TRIGGER audit_new_hold ON hold;
DROP TRIGGER audit_hold_status ON hold;
DROP TRIGGER audit_movement ON movement;

-- 2. A BEFORE trigger that skips a function's ledger row, or changes it after the ledger's own
-- row trigger saw it: the call fails (XX000) and nothing of it stays.
CREATE FUNCTION public.meddle() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.ref = 'SKIP' THEN RETURN NULL; END IF;
    IF NEW.ref = 'DOUBLE' THEN NEW.qty := NEW.qty * 2; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER zz_meddle BEFORE INSERT ON movement FOR EACH ROW EXECUTE FUNCTION public.meddle();
SELECT reserve('web', 'TEE', 1, 'SKIP');
SELECT reserve('web', 'TEE', 1, 'DOUBLE');
SELECT count(*) AS holds FROM hold WHERE ref IN ('SKIP', 'DOUBLE');
DROP TRIGGER zz_meddle ON movement;
-- A BEFORE trigger on hold that skips the new hold: the same.
CREATE FUNCTION public.skip_hold() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER skip_hold BEFORE INSERT ON hold FOR EACH ROW EXECUTE FUNCTION public.skip_hold();
SELECT reserve('web', 'TEE', 1, 'NO-HOLD');
DROP TRIGGER skip_hold ON hold;
SELECT * FROM stock('TEE');
SELECT * FROM verify();

-- 3. The ledger's trigger functions fire only where they belong: attached elsewhere (a
-- superuser's mistake), they refuse to run.
CREATE TABLE public.lookalike (LIKE movement);
CREATE TRIGGER wrong BEFORE INSERT ON public.lookalike FOR EACH STATEMENT EXECUTE FUNCTION _movement_row();
INSERT INTO public.lookalike (id, sku, location, qty, occurred_at, recorded_at, actor, txid)
VALUES (1, 'X', 'DC1', 1, now(), now(), 'me', '1');
DROP TABLE public.lookalike;

-- 4. A superuser's session under session_replication_role = replica (a restore, a replication
-- tool), where the ledger's own row trigger does not fire: a function call still writes a
-- complete ledger row (it fills in what that trigger would) and applies it.
SET session_replication_role = replica;
SELECT count(*) AS picked FROM pick('TEE', 'DC1', 1);
RESET session_replication_role;
SELECT sku, from_stage, to_stage, qty, recorded_at IS NOT NULL AS recorded,
       actor = current_user AS actor_is_caller, txid IS NOT NULL AS txid_set
  FROM movement WHERE reason = 'pick scan' ORDER BY id DESC LIMIT 1;
SELECT stage, qty FROM stock('TEE') WHERE stage IN ('available', 'picked') ORDER BY stage;
SELECT * FROM verify();
DROP TABLE public.audit;
