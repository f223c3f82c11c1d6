DROP FUNCTION member.member_doc_text(member.members, member.profiles, json, boolean);
DROP FUNCTION member.address_doc_text(member.addresses);
