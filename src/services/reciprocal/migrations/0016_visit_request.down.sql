DROP FUNCTION IF EXISTS reciprocal.visit_request(uuid, uuid, uuid, uuid, uuid, date, date, integer,
                                                 jsonb, text, uuid);
