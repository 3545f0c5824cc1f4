-- Descriptions for the objects whose definition carries no COMMENT ON (\df+, \d+, \dT+ show
-- them): the internal helpers, the tables' and views' columns, the composite type's columns,
-- the sequences. Loaded after every other SQL file (it names objects from all of them). The
-- public functions, tables and views are described next to their definitions.
--
-- Every object of the extension must have a description: a query over pg_depend (deptype 'e')
-- that lists the objects without one must return no rows.

------------------------------------------------------------------------------------------------
-- Internal helpers (names starting with _). Not part of the API: EXECUTE is not granted to any
-- level; they run inside the SECURITY DEFINER functions and the ledger's triggers.

-- ledger.sql
COMMENT ON FUNCTION inventory_truth._check_code(text, text) IS
    'Returns the code of the given kind (SKU, location, channel, reference) if valid: NULL is 22004; empty, over 100 characters, control characters or surrounding spaces are 22023. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._actor() IS
    'The acting role recorded in movement.actor and elsewhere: the SET ROLE role, else the session''s login role (SECURITY DEFINER functions do not change it). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._units(bigint) IS
    'A quantity as messages show it: "1 unit", "5 units". Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._max_units() IS
    'The most units a movement, count, buffer or fence may name, and the most a location may hold of one SKU over all stages (10^12): no sum can overflow bigint. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._q(text) IS
    'A code in double quotes, as messages show it. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._describe(text, text) IS
    'A SKU and location as messages show them: SKU "..." at location "...". Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._movement_append_only() IS
    'Trigger that refuses UPDATE, DELETE and TRUNCATE of the ledger (42501): a mistake is corrected by a correcting movement. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._move(text, text, inventory_truth.stage, inventory_truth.stage, bigint, text, text, timestamp with time zone, text) IS
    'Applies one movement with the engine, checking the source bucket at once (IT001) so that a function fails at the call rather than at commit, and records it in the ledger; returns the ledger row. For the SQL functions that decide their movements themselves (counts). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._preorder(text, text, bigint, text, text, timestamp with time zone) IS
    'The body of preorder(): checks the arguments, takes the SKU''s row, plans and writes the preorder''s holds and returns their ids (src/preorder.rs). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._unclaimed_arrivals(text) IS
    'Each location''s stock on its way by arrival day, less what open preorders await of it (they take the first arrivals): what atp_timeline puts on the shelf. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._require(anyelement, text) IS
    'Returns the value, or raises 22004 naming the argument when it is NULL. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._check_eta(date) IS
    'Returns an ETA if valid: NULL is 22004, infinity is 22023. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._known_sku(text) IS
    'Returns the SKU code if the SKU exists: NULL is 22004, unknown is 42704. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._known_location(text) IS
    'Returns the location code if the location exists: NULL is 22004, unknown is 42704. Internal: not for direct use.';

-- floor.sql

-- channels.sql
COMMENT ON FUNCTION inventory_truth._known_channel(text) IS
    'Returns the channel code if the channel exists: NULL is 22004, unknown is 42704. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._buffer(text, text) IS
    'The safety buffer of a channel for a SKU: the SKU''s own (sku_buffer), else the channel''s default. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._sellable(text, text, text) IS
    'What a channel may sell of a SKU before its buffer: its fence plus the pool (available units less other channels'' fences), at one location or, location NULL, summed over all. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._refuse_after_breach(text, text, text) IS
    'Refuses with IT003 a rule change (rebalance, ringfence, buffer, channel) in a transaction whose direct ledger sales of that SKU or channel (NULL: any) breached a fence or buffer and await their check at commit. Internal: not for direct use.';

-- The engine's entry points and helpers (Rust: src/ledger.rs, src/engine.rs, src/hold.rs,
-- src/notify.rs), and the triggers that call it.
COMMENT ON FUNCTION inventory_truth._ledger_tables_no_truncate() IS
    'Trigger that refuses TRUNCATE (42501) of the tables the ledger sums into or names: stock, expected_receipt, sku, location, movement_commit, hold. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._codes_changed() IS
    'Row trigger (enabled ALWAYS) on UPDATE or DELETE of channel and location: tells every backend to forget the codes of the table it remembers as existing (src/known.rs), this one at the end of the command and the others when the writing transaction commits. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._movement_row() IS
    'Row trigger on movement (runs as the inserting role): refuses the filled-in columns from anyone but the table''s owner (42501) and draws their ids from the sequence; stores restored history as it is; checks what a row alone must be (23502, 22023, IT002) and fills in recorded_at, actor and txid. A row a function applied itself is only filled in. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._movement_statement() IS
    'Statement trigger on movement: looks up what the statement''s new rows name (location, channel, references; 42704, 22023, 22004) and applies them with the engine, SKU by SKU in code order: creates SKUs a row introduces (42704 for other unknown SKUs), advances versions, keeps stock, expected receipts, holds and fences in step, and notes direct sales that breach a fence or buffer for their judgement at commit. Restored history and a function''s own rows are left alone. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._lock_sku(text) IS
    'Takes a SKU''s row for the transaction, first of anything of the SKU, as the engine does (42704 for an unknown SKU). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._fence_channels(text, text) IS
    'The fenced channels of a SKU at a location in fill order (priority, then code): those with a rule for the SKU and those with fenced units there, with the rule, the fenced units and what their open holds took from the fence. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._rebalance_sku(text) IS
    'rebalance() for one SKU: recomputes its fences at every location from the rules (available units fill fences in priority order up to their targets, less what each channel holds from its fence, the rest is the pool; holds keep their units), advances its version when they change, and returns the number of locations changed. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._expire_hold(text, text, text, boolean) IS
    'Expires one hold past its expiry: committed -> available under its SKU''s lock (with skip_busy, false at once when another transaction holds the SKU); the hold ends as expired. Returns whether it expired one. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._atp_changed(text, text) IS
    'Takes a SKU''s row (unless the transaction holds it) and advances its version unless this transaction advanced it already, with the time and cause, and notes it for publication at commit (relay or direct mode). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._atp_changed_everywhere(text) IS
    'Advances every SKU''s version, rows locked in code order (a new channel, a channel''s default buffer), and notes that every SKU may have changed. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._at_commit(boolean, text[], boolean, text[], text[], text[], text[], text[]) IS
    'Called just before a transaction commits, as the extension''s owner: refuses a commit that leaves a stage of a place a direct insert touched below zero (IT001) or a direct sale still in breach of a fence or a buffer (IT003), records the commit time in movement_commit if the transaction wrote the ledger, and in direct mode publishes the SKUs it changed (every SKU with publish_all). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._breached(text, text) IS
    'Whether a direct ledger sale of this transaction breached a fence or a buffer of the SKU (NULL: any) for the channel (NULL: any) and awaits its judgement at commit. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._relay_baseline() IS
    'Called by the relay as it starts: when a crash emptied atp_published (its row of SKU '''' is gone), records every SKU''s state as published without notifying (every listener reconnects and resyncs after a crash) and returns how many SKUs; -1 when the table was intact. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._relay_stale() IS
    'The SKUs whose version moved past what was last published: what the relay publishes when it starts, when it fell behind the shared log of changes, and while a prepared transaction may commit. Internal: not for direct use.';

-- fence.rs (Rust)
COMMENT ON FUNCTION inventory_truth._fence_fill(bigint, bigint[], bigint[]) IS
    'An inflow of qty units to available stock: fills the fences (priority order) up to their targets, the rest goes to the pool; returns the new fence quantities. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._fence_take_loss(bigint, bigint, bigint[]) IS
    'A loss of qty units from available stock: the pool pays first, then the fences, lowest priority first; returns the new fence quantities. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._fence_allocate(bigint, bigint[]) IS
    'Fences recomputed from scratch: the available units go to the fences in priority order, each up to its target, the rest is the pool; returns the fence quantities. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._fence_project(bigint, bigint[], bigint[], numeric[], bigint[], bigint[], integer) IS
    'One location projected over successive daily inflows, each filling the fences like a put-away: the units the channel at the given index may sell after each. atp_timeline sums them over locations. Internal: not for direct use.';

-- holds.sql
COMMENT ON FUNCTION inventory_truth._check_ttl(interval) IS
    'Returns a hold''s ttl if valid: NULL (never expires), or positive as a time from now and at most 100 years (22023 otherwise). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._order_lines(jsonb) IS
    'An order''s lines checked (shape, known SKUs, positive quantities, one location per SKU) and summed per SKU, in byte order of SKU: what reserve_order reserves and check_order checks. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._order_reach(text, jsonb, text) IS
    'Each summed line of an order with the channel''s ATP of its SKU and the most one reservation of it would be granted now (split as reserve''s), from committed state. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._check_split(text) IS
    'Returns the split argument if it is one reserve knows (most_stock, priority, none): 22004 for NULL, 22023 otherwise (src/hold.rs). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._refuse_order(text, text, jsonb, text, text) IS
    'Raises IT001 for an order, naming every short line (and the refused one) in the message and as a JSON array in DETAIL. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._same_order_lines(text, text, jsonb) IS
    'Refuses with IT004 order lines whose SKUs differ from those already held under the channel''s reference (none held: accepted). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._expire_due_holds(integer, boolean) IS
    'Releases up to p_limit (NULL: every) open holds past their expiry (committed -> available, status expired) and returns how many; skips holds being picked or released; with p_skip_busy, also those whose SKU another transaction has locked. expire_holds() and the relay call it. Internal: not for direct use.';

-- counts.sql and count.rs (Rust)
COMMENT ON FUNCTION inventory_truth._check_counted(bigint, text) IS
    'Returns a counted or found quantity if valid: NULL is 22004, negative is 22023. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._check_window(interval, text, boolean) IS
    'Returns a look-back window if valid: NULL is 22004; over 100 years, or not positive (negative when allow_zero), is 22023. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._check_event_time(timestamp with time zone) IS
    'Returns occurred_at if valid: NULL is 22004, infinity is 22023. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._lock_bin(text, text) IS
    'Takes the SKU''s row (the ledger''s lock order: everything of the SKU is written under it) and returns the bin''s available, committed and missing units. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._holds_go_missing(text, text, bigint, text, timestamp with time zone) IS
    'Moves p_qty committed units of a bin to missing, one ledger row per hold naming it, lowest-priority channel first, newest hold first; returns the rows. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._count_shortfall(bigint, bigint, bigint) IS
    'A short pick''s arithmetic: of the units a bin lacks (available + committed - found, never negative), how many leave available (first) and how many leave committed. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._count_reconciliation(bigint, bigint, bigint, bigint) IS
    'A count''s arithmetic: for counted units against a bin''s available + committed and the missing units there, the units found (missing -> available), gained (outside -> available), lost from available (-> written_off), lost from committed (-> missing) and written off from missing. Internal: not for direct use.';

-- applied.rs (Rust)

-- notify.sql and notify.rs (Rust)
COMMENT ON FUNCTION inventory_truth.notify_status() IS
    'Who sends this database''s ATP notifications, for a storefront to check before it trusts its LISTEN: the inventory_truth.notify_mode setting, the mode in force for this session (relay, direct or off), the channel, whether the library is preloaded, and this database''s relay (NULLs when none runs): its pid, when it last finished a pass, the SKUs it had not published then, the shared log entries written since it last read them, and whether a full notify queue pauses it. Storefront level.';
COMMENT ON FUNCTION inventory_truth._readiness_thresholds() IS
    'Every threshold readiness() judges against, in one place: the pick-before-ship margin, the scanned-first shares and scan lags that pass and fail, how many best sellers, the buffer range, the damage lags that pass and fail. Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._readiness_pick_scans(timestamptz) IS
    'readiness() question 1 since window_start: does stock leave ATP at the pick scan? Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._readiness_buffers(timestamptz) IS
    'readiness() question 2 since window_start: do the best sellers keep a safety buffer on public channels? Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._readiness_wholesale(timestamptz) IS
    'readiness() question 3 since window_start: is wholesale stock ringfenced? Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._readiness_damage(timestamptz) IS
    'readiness() question 4 since window_start: how long from damage discovery to the commit that removed it from ATP? Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._duration_text(interval) IS
    'A threshold as readiness() advice states it ("30 s", "1 min", "1 h"). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._notify_mode() IS
    'The notification mode in force for this session: off, direct or relay (inventory_truth.notify_mode; auto and relay are relay only when the library is preloaded, else direct). Internal: not for direct use.';
COMMENT ON FUNCTION inventory_truth._publish(text[]) IS
    'Publishes the given SKUs'' ATP changes since their last publication: one NOTIFY on inventory_truth.notify_channel per (SKU, channel) whose ATP differs from atp_published (every channel when the version moved by more than one), then records what it published. Returns the notifications sent. Internal: not for direct use.';

-- readiness.sql
COMMENT ON FUNCTION inventory_truth._lag_text(interval) IS
    'A lag as people read it ("0.3 s", "42 s", "4 min 10 s", "2 h 5 min", "3 days 4 h", cut not rounded; NULL is "n/a"), for readiness(). Internal: not for direct use.';

------------------------------------------------------------------------------------------------
-- Columns of the tables (docs/reference.md, "The ledger" and "Holds").

COMMENT ON COLUMN inventory_truth.sku.code IS 'The SKU code, the key everywhere: 1 to 100 characters, without control characters or surrounding spaces.';
COMMENT ON COLUMN inventory_truth.sku.created_at IS 'When the SKU was created (by an expected receipt, an arrival or a count gain).';

COMMENT ON COLUMN inventory_truth.location.code IS 'The location code, the key everywhere: 1 to 100 characters, without control characters or surrounding spaces.';
COMMENT ON COLUMN inventory_truth.location.name IS 'Display name; add_location with a NULL name keeps the old one.';
COMMENT ON COLUMN inventory_truth.location.created_at IS 'When the location was added.';

COMMENT ON COLUMN inventory_truth.movement.id IS 'Ledger order, with gaps: a refused movement still uses up an id (filled in).';
COMMENT ON COLUMN inventory_truth.movement.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.movement.location IS 'The location code.';
COMMENT ON COLUMN inventory_truth.movement.from_stage IS 'The stage the units leave; NULL = from outside the system.';
COMMENT ON COLUMN inventory_truth.movement.to_stage IS 'The stage the units enter; NULL = out of the system.';
COMMENT ON COLUMN inventory_truth.movement.qty IS 'Units moved, > 0.';
COMMENT ON COLUMN inventory_truth.movement.channel IS 'The sales channel: with ref it names the hold of a movement into or out of committed; on available -> picked it makes the pick a sale for that channel; on other losses it is recorded only.';
COMMENT ON COLUMN inventory_truth.movement.ref IS 'The caller''s reference: order, PO/ASN line, RMA, picker event, count-<task>...';
COMMENT ON COLUMN inventory_truth.movement.reason IS 'Free text; the functions write the business event (put-away, pick scan, count loss, ...).';

COMMENT ON COLUMN inventory_truth.movement_commit.txid IS 'The transaction (movement.txid).';
COMMENT ON COLUMN inventory_truth.movement_commit.committed_at IS 'When it committed (the database clock during the commit, after every statement).';

COMMENT ON COLUMN inventory_truth.stock.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.stock.location IS 'The location code.';
COMMENT ON COLUMN inventory_truth.stock.inbound IS 'Units expected, not yet in the building (open expected receipts add up to it).';
COMMENT ON COLUMN inventory_truth.stock.receiving IS 'Units on the dock, not put away.';
COMMENT ON COLUMN inventory_truth.stock.quality_control IS 'Units awaiting inspection.';
COMMENT ON COLUMN inventory_truth.stock.available IS 'Units put away and cleared for sale: the fences (fence_qty) and the shared pool (the rest).';
COMMENT ON COLUMN inventory_truth.stock.committed IS 'Units promised to open holds, not yet picked (open holds add up to it).';
COMMENT ON COLUMN inventory_truth.stock.picked IS 'Units scanned to a pick cart.';
COMMENT ON COLUMN inventory_truth.stock.shipped IS 'Units that left the building from here.';
COMMENT ON COLUMN inventory_truth.stock.quarantine IS 'Customer returns awaiting a manager''s inspection.';
COMMENT ON COLUMN inventory_truth.stock.damaged IS 'Units in the building, unsellable.';
COMMENT ON COLUMN inventory_truth.stock.missing IS 'Units expected at the bin but not found, awaiting a count.';
COMMENT ON COLUMN inventory_truth.stock.written_off IS 'Units removed for good.';
COMMENT ON COLUMN inventory_truth.stock.fence_channels IS 'The channels with fenced units here (or had them), in code order; fence_qty and fence_held are in the same order.';
COMMENT ON COLUMN inventory_truth.stock.fence_qty IS 'Available units fenced for each channel of fence_channels.';
COMMENT ON COLUMN inventory_truth.stock.fence_held IS 'Units each channel''s open holds here took from its fence (the sum of their fence_qty): they count against its target.';
COMMENT ON COLUMN inventory_truth.stock_part.sku IS 'The escrowed SKU.';
COMMENT ON COLUMN inventory_truth.stock_part.location IS 'The location whose pool the part was lent from.';
COMMENT ON COLUMN inventory_truth.stock_part.part IS 'The part''s number, 1 to the SKU''s escrow_parts.';
COMMENT ON COLUMN inventory_truth.stock_part.lent IS 'Units of the pool lent to the part at the last fold and lend.';
COMMENT ON COLUMN inventory_truth.stock_part.sold IS 'Units sold from the part since: still in stock.available, already held (committed).';
COMMENT ON COLUMN inventory_truth.stock_part.sales IS 'Sales from the part since: each advanced the SKU''s ATP version.';
COMMENT ON COLUMN inventory_truth.stock_part.sold_at IS 'When the part''s last sale was recorded (kept after a fold): the changed_at of a notification whose latest change was a sale from a part.';
COMMENT ON COLUMN inventory_truth.balance.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.balance.location IS 'The location code.';
COMMENT ON COLUMN inventory_truth.balance.stage IS 'The stage.';
COMMENT ON COLUMN inventory_truth.balance.qty IS 'Units in the bucket (not 0): the ledger''s sum, never negative once a transaction commits.';

COMMENT ON COLUMN inventory_truth.expected_receipt.id IS 'The receipt line''s id.';
COMMENT ON COLUMN inventory_truth.expected_receipt.ref IS 'The receipt''s reference (PO/ASN line); one line per ref, SKU and location.';
COMMENT ON COLUMN inventory_truth.expected_receipt.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.expected_receipt.location IS 'The location code.';
COMMENT ON COLUMN inventory_truth.expected_receipt.eta IS 'Expected arrival date; NULL for a receipt written into the ledger directly, until set_eta.';
COMMENT ON COLUMN inventory_truth.expected_receipt.expected IS 'Units expected in total (every movement into inbound under this reference).';
COMMENT ON COLUMN inventory_truth.expected_receipt.open_qty IS 'Units still inbound: expected, less received and cancelled.';
COMMENT ON COLUMN inventory_truth.expected_receipt.first_movement IS 'The ledger row (movement id) that opened the receipt: what a repeated expect() returns.';
COMMENT ON COLUMN inventory_truth.expected_receipt.created_at IS 'When the receipt line was created.';

COMMENT ON COLUMN inventory_truth.channel.code IS 'The channel code: 1 to 100 characters, without control characters or surrounding spaces.';
COMMENT ON COLUMN inventory_truth.channel.priority IS 'Lower number = higher priority: its fences fill first and lose units to a loss last.';
COMMENT ON COLUMN inventory_truth.channel.buffer IS 'Default safety buffer: units hidden from the channel for every SKU without its own (sku_buffer).';
COMMENT ON COLUMN inventory_truth.channel.kind IS 'web, marketplace, wholesale, pos or other; readiness() reads it (web, marketplace and pos are public; wholesale should be ringfenced).';
COMMENT ON COLUMN inventory_truth.channel.created_at IS 'When the channel was added (add_channel on an existing channel keeps it).';

COMMENT ON COLUMN inventory_truth.sku_buffer.channel IS 'The channel code.';
COMMENT ON COLUMN inventory_truth.sku_buffer.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.sku_buffer.units IS 'Units of the SKU hidden from the channel (>= 0), instead of the channel''s default buffer.';

COMMENT ON COLUMN inventory_truth.ringfence.channel IS 'The channel whose units the rule fences.';
COMMENT ON COLUMN inventory_truth.ringfence.sku IS 'The SKU the rule is for; NULL = every SKU (a SKU''s own rule overrides it).';
COMMENT ON COLUMN inventory_truth.ringfence.units IS 'Units fenced at each location (NULL when the rule is a percent).';
COMMENT ON COLUMN inventory_truth.ringfence.percent IS 'Percent (0 to 100) of the SKU''s available units at each location, rounded down (NULL when the rule is units).';
COMMENT ON COLUMN inventory_truth.ringfence.created_at IS 'When the rule was first set (replacing it with set_ringfence keeps it).';

COMMENT ON COLUMN inventory_truth.fence.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.fence.location IS 'The location code.';
COMMENT ON COLUMN inventory_truth.fence.channel IS 'The fenced channel.';
COMMENT ON COLUMN inventory_truth.fence.qty IS 'Units of the location''s available stock that only this channel may sell.';


COMMENT ON COLUMN inventory_truth.hold.id IS 'The hold id, as reserve returns it.';
COMMENT ON COLUMN inventory_truth.hold.channel IS 'The channel holding the units.';
COMMENT ON COLUMN inventory_truth.hold.ref IS 'The order reference; one hold per channel, ref and SKU.';
COMMENT ON COLUMN inventory_truth.hold.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.hold.location IS 'Where the units are held (a hold is at one location).';
COMMENT ON COLUMN inventory_truth.hold.qty IS 'Units reserved.';
COMMENT ON COLUMN inventory_truth.hold.open_qty IS 'Units still committed to the hold.';
COMMENT ON COLUMN inventory_truth.hold.picked_qty IS 'Units picked against the hold.';
COMMENT ON COLUMN inventory_truth.hold.released_qty IS 'Units released or expired back to available.';
COMMENT ON COLUMN inventory_truth.hold.status IS 'open while units are held; then how it ended: picked, released, expired or lost.';
COMMENT ON COLUMN inventory_truth.hold.expires_at IS 'When expire_holds() releases it (the reserving transaction''s start + ttl); NULL = never; a pick scan clears it.';
COMMENT ON COLUMN inventory_truth.hold.created_at IS 'When the hold was created.';
COMMENT ON COLUMN inventory_truth.hold.ended_at IS 'When its last open unit left it; NULL while open.';


COMMENT ON COLUMN inventory_truth.atp_published.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.atp_published.version IS 'The SKU''s version the published values were read at.';
COMMENT ON COLUMN inventory_truth.atp_published.atp IS 'Each channel''s ATP as last published: {"channel": atp}.';
COMMENT ON COLUMN inventory_truth.atp_published.published_at IS 'When they were published (the database clock).';
COMMENT ON COLUMN inventory_truth.atp_published.preorderable IS 'What might be preordered of the SKU as last published (NULL while no channel takes preorders).';

COMMENT ON COLUMN inventory_truth.count_task.id IS 'The task id: count_sheet.task, and submit_count''s task argument.';
COMMENT ON COLUMN inventory_truth.count_task.sku IS 'The SKU to count.';
COMMENT ON COLUMN inventory_truth.count_task.location IS 'The location (bin) to count.';
COMMENT ON COLUMN inventory_truth.count_task.reason IS 'short pick or cycle count: what opened the task (a short pick also raises an open cycle count to its reason and priority).';
COMMENT ON COLUMN inventory_truth.count_task.priority IS '0 for a short pick, 100 for a cycle count; lower is more urgent.';
COMMENT ON COLUMN inventory_truth.count_task.status IS 'open, or counted once submit_count has reconciled it.';
COMMENT ON COLUMN inventory_truth.count_task.created_at IS 'When the task was opened; a count cannot be dated before it.';
COMMENT ON COLUMN inventory_truth.count_task.created_by IS 'The role that opened it (SET ROLE is honoured).';
COMMENT ON COLUMN inventory_truth.count_task.counted_qty IS 'Units counted, as submitted; NULL while open.';
COMMENT ON COLUMN inventory_truth.count_task.submitted_at IS 'When the count was submitted (the database clock).';
COMMENT ON COLUMN inventory_truth.count_task.counted_by IS 'The role that submitted the count (SET ROLE is honoured).';

COMMENT ON COLUMN inventory_truth.short_pick.id IS 'The short pick''s id (broken_holds.event_id).';
COMMENT ON COLUMN inventory_truth.short_pick.ref IS 'The picker event''s reference: a retry with the same ref and SKU returns the same task; NULL when none was given.';
COMMENT ON COLUMN inventory_truth.short_pick.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.short_pick.location IS 'The location (bin) code.';
COMMENT ON COLUMN inventory_truth.short_pick.found IS 'Units the picker found.';
COMMENT ON COLUMN inventory_truth.short_pick.believed IS 'Units the system believed were in the bin (available + committed) when it was reported.';
COMMENT ON COLUMN inventory_truth.short_pick.missing IS 'Units moved to missing: believed less found, never below 0.';
COMMENT ON COLUMN inventory_truth.short_pick.task IS 'The blind count task it opened or raised (count_task.id).';
COMMENT ON COLUMN inventory_truth.short_pick.movements IS 'The ledger rows it wrote (movement ids).';
COMMENT ON COLUMN inventory_truth.short_pick.occurred_at IS 'When the picker found the bin short (scanner clock).';
COMMENT ON COLUMN inventory_truth.short_pick.recorded_at IS 'When it was recorded (the reporting transaction''s start).';
COMMENT ON COLUMN inventory_truth.short_pick.actor IS 'The role that reported it (SET ROLE is honoured).';

------------------------------------------------------------------------------------------------
-- Columns of the views (docs/reference.md, "Counts and short picks").

COMMENT ON COLUMN inventory_truth.count_sheet.task IS 'The count task: pass it to submit_count(task, counted).';
COMMENT ON COLUMN inventory_truth.count_sheet.sku IS 'The SKU to count.';
COMMENT ON COLUMN inventory_truth.count_sheet.location IS 'The location (bin) to count.';
COMMENT ON COLUMN inventory_truth.count_sheet.reason IS 'short pick or cycle count.';
COMMENT ON COLUMN inventory_truth.count_sheet.priority IS '0 for a short pick, 100 for a cycle count; lower is more urgent.';
COMMENT ON COLUMN inventory_truth.count_sheet.created_at IS 'When the task was opened.';

COMMENT ON COLUMN inventory_truth.broken_holds.event IS 'short pick or count.';
COMMENT ON COLUMN inventory_truth.broken_holds.event_id IS 'short_pick.id for a short pick, count_task.id for a count.';
COMMENT ON COLUMN inventory_truth.broken_holds.event_ref IS 'The short pick''s picker event reference; NULL for a count.';
COMMENT ON COLUMN inventory_truth.broken_holds.task IS 'The count task: the one the short pick opened or raised, or the task counted.';
COMMENT ON COLUMN inventory_truth.broken_holds.hold IS 'The hold that lost units (hold.id).';
COMMENT ON COLUMN inventory_truth.broken_holds.channel IS 'The hold''s channel.';
COMMENT ON COLUMN inventory_truth.broken_holds.ref IS 'The hold''s order reference.';
COMMENT ON COLUMN inventory_truth.broken_holds.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.broken_holds.location IS 'The location code.';
COMMENT ON COLUMN inventory_truth.broken_holds.lost IS 'Units the event took from the hold (committed -> missing).';
COMMENT ON COLUMN inventory_truth.broken_holds.still_held IS 'The hold''s open units now.';
COMMENT ON COLUMN inventory_truth.broken_holds.hold_status IS 'The hold''s status now (open, picked, released, expired, lost).';
COMMENT ON COLUMN inventory_truth.broken_holds.occurred_at IS 'The physical time of the event (the movement''s occurred_at).';
COMMENT ON COLUMN inventory_truth.broken_holds.movement IS 'The ledger row that took the units (movement.id).';

COMMENT ON COLUMN inventory_truth.broken_preorders.hold IS 'The preorder''s hold at the location (hold.id).';
COMMENT ON COLUMN inventory_truth.broken_preorders.channel IS 'The hold''s channel.';
COMMENT ON COLUMN inventory_truth.broken_preorders.ref IS 'The hold''s order reference.';
COMMENT ON COLUMN inventory_truth.broken_preorders.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.broken_preorders.location IS 'The location the units were expected at.';
COMMENT ON COLUMN inventory_truth.broken_preorders.broken IS 'Units of the preorder the stock on its way no longer covers.';
COMMENT ON COLUMN inventory_truth.broken_preorders.still_awaited IS 'Units it still awaits.';
COMMENT ON COLUMN inventory_truth.broken_preorders.held IS 'Units it holds (already put away into it).';
COMMENT ON COLUMN inventory_truth.broken_preorders.preorder_eta IS 'When its units were promised for.';
COMMENT ON COLUMN inventory_truth.broken_preorders.status IS 'The hold''s status now: lost when nothing is left to await or hold.';

------------------------------------------------------------------------------------------------
-- Attributes of the composite type (atp_snapshot's rows).

COMMENT ON COLUMN inventory_truth.channel_atp.sku IS 'The SKU code.';
COMMENT ON COLUMN inventory_truth.channel_atp.channel IS 'The channel code.';
COMMENT ON COLUMN inventory_truth.channel_atp.atp IS 'The channel''s available to promise of the SKU, as atp(sku, channel) returns it.';
COMMENT ON COLUMN inventory_truth.channel_atp.version IS 'The SKU''s version this value was read at: apply only notifications with a higher version.';

------------------------------------------------------------------------------------------------
-- Sequences.

COMMENT ON SEQUENCE inventory_truth.movement_id_seq IS 'Ids of movement (ledger order).';
COMMENT ON SEQUENCE inventory_truth.expected_receipt_id_seq IS 'Ids of expected_receipt.';
COMMENT ON SEQUENCE inventory_truth.hold_id_seq IS 'Ids of hold.';
COMMENT ON SEQUENCE inventory_truth.count_task_id_seq IS 'Ids of count_task.';
COMMENT ON SEQUENCE inventory_truth.short_pick_id_seq IS 'Ids of short_pick.';

-- Escrow (sql/escrow.sql): the parts as a DBA watches them, and stock as it is.
COMMENT ON COLUMN inventory_truth.escrow.sku IS 'The escrowed SKU.';
COMMENT ON COLUMN inventory_truth.escrow.location IS 'The location whose pool the part was lent from.';
COMMENT ON COLUMN inventory_truth.escrow.part IS 'The part''s number.';
COMMENT ON COLUMN inventory_truth.escrow.lent IS 'Units lent to the part when the pool was last lent out.';
COMMENT ON COLUMN inventory_truth.escrow.sold IS 'Units sold from the part since (held by their buyers).';
COMMENT ON COLUMN inventory_truth.escrow.left_to_sell IS 'Units the part may still sell without taking the SKU''s row.';
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT a.attname FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = 'inventory_truth._stock_now'::regclass AND a.attnum > 0
    LOOP
        EXECUTE format('COMMENT ON COLUMN inventory_truth._stock_now.%I IS %L', c.attname,
                       CASE WHEN c.attname IN ('available', 'committed')
                            THEN format('stock.%s with what escrow parts sold since their last fold applied.', c.attname)
                            ELSE format('stock.%s.', c.attname) END);
    END LOOP;
END
$$;
