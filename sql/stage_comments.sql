-- Descriptions shown by \dT+ and \df+ for the stage type and its functions.
COMMENT ON TYPE stage IS
    'Where a unit of stock is. Only available stock is sellable.';
COMMENT ON FUNCTION movement_allowed(stage, stage) IS
    'True when stock may move from the first stage to the second; NULL means outside the system (supplier, customer, lost for good).';
COMMENT ON FUNCTION allowed_movements() IS
    'Every allowed movement between stages (NULL = outside the system) with the business event it records.';
COMMENT ON FUNCTION stages() IS
    'Every stage in order, whether it counts as on-hand stock, whether it is sellable, and what it means.';
