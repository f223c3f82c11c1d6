DROP FUNCTION reciprocal.restriction_status(timestamptz, date);
DROP FUNCTION reciprocal.restriction_of(uuid, uuid, uuid, date);
DROP TABLE reciprocal.visitor_bans;
DROP TABLE reciprocal.suspensions;
