-- The organization row and its owner's membership reference each other; checking the owner key at
-- commit lets both be inserted in one transaction, and an ownership transfer update both rows.
ALTER TABLE "organizations" ALTER CONSTRAINT "organizations_owner_membership_fk" DEFERRABLE INITIALLY DEFERRED;
