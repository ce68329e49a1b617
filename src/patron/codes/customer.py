"""Codes of the v2 customer API: registration, identifiers, look-ups, care, subscriptions."""

from __future__ import annotations

from patron.codes import WARNING, Domain

DOMAIN = Domain(
    "Customers",
    (
        "The v2 customer API: registration, updates, identifiers and sources, look-ups, merges, "
        "subscriptions, hierarchies, referrals, notes, preferences, tickets and images."
    ),
)
_ = DOMAIN.code


# The seed's codes (001 and 003 list them).
CUSTOMER_FRAUD = _(618, "403, 200 (warning)", "Not allowed - customer is marked as fraud.")
CUSTOMER_SUCCESS = _(
    1000,
    200,
    (
        "Success: the customer was registered, retrieved or updated; notes, preferences or "
        "referrals were saved or retrieved."
    ),
)
REGISTRATION_MOBILE_INVALID = _(1001, 400, "Unable to register. Invalid mobile number.")
REGISTRATION_EMAIL_INVALID = _(1002, 400, "Unable to register. Invalid email id.")
REGISTRATION_EXTERNAL_ID_INVALID = _(1003, 400, "Unable to register. Invalid external id.")
MOBILE_REQUIRED = _(1006, 400, "Unable to register. Mobile number is required.")
NO_PRIMARY_IDENTIFIER = _(
    1007,
    400,
    (
        "Unable to register customer. No valid primary identifier mobile number, email ID, or "
        "external ID passed."
    ),
)
ALREADY_REGISTERED = _(1014, 409, "Customer is registered already.")
EMAIL_OF_OTHER_CUSTOMER = _(
    1016, 409, "Unable to register. Email provided already exists for some other user."
)
CUSTOM_FIELD_INVALID = _(1017, 400, "Provided Custom Field is invalid.")
EMAIL_NEEDS_MOBILE_OR_EXTERNAL_ID = _(
    1019, 400, "Mobile number or external id is required along with the email Id to register."
)
NO_NOTES = _(1028, WARNING, "No customer notes are available.")
PREFERENCES_NOT_UPDATED = _(1030, 400, "Unable to update customer preferences.")
NO_PREFERENCES = _(1031, WARNING, "No preferences set for this customer.")
MOBILE_OF_OTHER_CUSTOMER = _(1032, 409, "A customer already exists with the same mobile number.")
EXTERNAL_ID_OF_OTHER_CUSTOMER = _(1033, 409, "A customer already exists with the same external id.")
REGISTRATION_DATE_OUT_OF_RANGE = _(
    1034,
    400,
    "Unable to register. Registration date is not within the allowed past or future date limit.",
)
NOTES_NOT_SAVED = _(1037, 400, "Unable to add/update customer notes.")
EMAIL_REQUIRED = _(1039, 400, "Unable to register. Email ID is required.")
ID_CHANGE_FAILED = _(1041, 400, "Customer id change request failed.")
INVALID_IDENTIFIER = _(1042, 400, "Invalid mobile no/email id/external id.")
EXTERNAL_ID_REQUIRED = _(1043, 400, "Unable to register. Customer's external id is required.")
NO_NON_LOYALTY_IDENTIFIER = _(
    1045, 400, "No valid identifier (mobile/email) passed for non-loyalty customer."
)
LOYALTY_TO_NON_LOYALTY = _(
    1046, 403, "Conversion of loyalty customer to non-loyalty is not allowed."
)
PRIMARY_IDENTIFIER_MISMATCH = _(
    1047, 409, "Customer's primary identifier not matching with other identifiers."
)
EMAIL_REQUIRED_FOR_LOYALTY = _(
    1048, 400, "Customer's email id is required to convert to loyalty customer."
)
EXTERNAL_ID_REQUIRED_FOR_LOYALTY = _(
    1049, 400, "Customer's external id is required to convert to loyalty customer."
)
BATCH_LIMIT = _(1060, 400, "Batch limit exceeded.")
INVALID_CHANNEL = _(1101, 400, "Invalid channel type.")
INVALID_PRIORITY = _(1102, 400, "Invalid priority type.")
INVALID_SCOPE = _(1103, 400, "Invalid scope.")
INVALID_SUBSCRIPTION_STATUS = _(1106, 400, "Invalid subscription status passed.")
INVALID_STORE = _(1150, 400, "Invalid store ID passed.")
REFERRAL_TOKEN_UNKNOWN = _(1202, "400, 404", "Invalid campaign token.")
REFERRAL_CAMPAIGN_INACTIVE = _(1203, 400, "Invalid campaign configured.")
REFERRAL_NOT_ELIGIBLE = _(1204, 403, "The customer may not be eligible for the referral program.")
REFERRER_NOT_FOUND = _(1205, 404, "Unable to find the referrer in the specific campaign.")
REFERRAL_TYPE_UNSUPPORTED = _(1206, 400, "Failed to add referral. Referral type is not supported.")
TICKET_SUCCESS = _(1300, 200, "Ticket retrieved successfully; ticket added successfully.")
TICKET_SAME_SUBJECT = _(1301, 409, "A ticket already exists with the same subject.")
TICKET_REFUSED = _(1302, 400, "Ticket registration failed.")
TICKET_NO_SUBJECT = _(1303, 400, "Ticket subject should not be empty.")
IDENTIFIER_TAKEN_IN_SOURCE = _(
    8007, 409, "Unable to update. The identifier is already registered in the same source."
)
NEW_IDENTIFIER_EXISTS_IN_SOURCE = _(
    8008, 409, "The new identifier already exists in the same source."
)
CUSTOMER_ID_INVALID = _(8009, 404, "Unable to identify the customer. Customer id is invalid.")
CHANNEL_INVALID = _(8010, 400, "communication channel is invalid.")
SOURCE_ACCOUNT_INVALID = _(8011, 400, "Invalid source account passed.")
SOURCE_INVALID = _(8012, 400, "Invalid source passed.")
CUSTOMER_IDENTIFIER_INVALID = _(
    8013,
    400,
    (
        "Customer identifier is invalid. Also check if the parameter identifierName is passed "
        "correctly."
    ),
)
CUSTOMER_NOT_FOUND = _(8015, 404, "No customer found with the given identifier.")
ACCOUNT_ID_MISSING = _(8045, 400, "Account id is not passed.")
COMBINED_ACROSS_SOURCES = _(
    8050, WARNING, "Same customer found in other sources: the new profile was combined with it."
)
MERGED_ACROSS_SOURCES = _(
    8051, WARNING, "Same identifier found in other source. Merging into the account with user id X."
)
IDENTIFIERS_OF_DIFFERENT_CUSTOMERS = _(
    8053,
    409,
    "Same identifier is registered on other source. The account is already merged with user id X.",
)
EMAIL_INVALID = _(8055, 400, "Invalid email id.")
MOBILE_INVALID = _(8056, 400, "Invalid mobile number.")
CHANNEL_EMAIL_INVALID = _(8057, 400, "Invalid email id passed in the communication channel.")
CHANNEL_MOBILE_INVALID = _(8058, 400, "Invalid mobile number passed in the communication channel.")
EXTERNAL_ID_INVALID = _(8064, 400, "External id validation failed.")
NOT_FOUND_IN_SOURCE = _(
    8065, 404, "No customer found in the given source with the given identifier."
)
USER_ID_USED_IN_SOURCE = _(8066, 409, "Unable to combine,User id already used in same source.")
ALREADY_MERGED_ACROSS_SOURCES = _(
    8067,
    WARNING,
    "Same customer found in other source. The account is already merged with user id X.",
)
CUSTOMER_MERGED = _(8069, 409, "The customer is merged into another account.")
VALIDATION_FAILED = _(91003, 400, "Validation failed.")
PRIMARY_IDENTIFIER_NOT_UPDATABLE = _(91005, 400, "{x} is Primary Key, {y} cannot be updated.")
UPDATE_NOT_ALLOWED = _(91006, WARNING, "{x} update is not allowed.")
MERGE_SURVIVOR_RETURNED = _(
    91009, WARNING, "Retrieved survivor account for the requested merge victim."
)
EXTENDED_FIELD_INVALID = _(
    91015, 400, "Failed to update extended fields; or field length too long -{x}."
)
TILL_INVALID = _(91020, 400, "Invalid TILL passed for registration.")

# Patron's own codes (95xxx: outside the seed's ranges).
PROGRAM_IGNORED = _(
    95002, WARNING, "An enrollment names a loyalty program the org does not define: it was skipped."
)
SYNC_MATCHED = _(
    95201,
    WARNING,
    "The profile synchronization rule matched an existing customer, whose profile was updated.",
)
REQUIRED_FIELD_EMPTY = _(
    95221, 400, "A field the org makes mandatory for profiles created by hand is empty."
)
IDENTIFIER_SUPPRESSED = _(
    95301,
    409,
    (
        "An identifier belonged to a deleted customer and the org refuses to register the person "
        "again."
    ),
)
IDENTIFIER_RELEASED = _(
    95302,
    WARNING,
    (
        "An identifier belonged to a deleted customer; the person was registered again, as the org"
        " allows."
    ),
)
UNMERGE_NO_MERGE_NAMED = _(
    95310, 400, "The customer is not merged into another: name the merge it survived."
)
UNMERGE_UNKNOWN_MERGE = _(95311, 404, "No such merge record of the customer.")
UNMERGE_NOT_REVERSIBLE = _(95312, 409, "The merge cannot be reversed (the data moved on since).")
IMAGE_NOT_AN_IMAGE = _(95321, 400, "The file is not a JPEG, PNG or WebP image.")
IMAGE_UNREADABLE = _(95322, 400, "The image cannot be read whole.")
IMAGE_TOO_LARGE = _(95323, 400, "The image is larger than the org accepts.")
IMAGE_NO_FILE = _(95324, 400, "No image file was sent.")
IMAGE_NONE = _(95325, 404, "The customer has no image.")
REFERRAL_CAMPAIGN_INVALID = _(95331, 400, "A referral campaign's definition is invalid.")
REFERRAL_TOKEN_TAKEN = _(95332, 409, "A referral campaign with this token exists already.")
HIERARCHY_INVALID = _(95341, 400, "A hierarchy's definition or an association with it is invalid.")
HIERARCHY_CODE_TAKEN = _(95342, 409, "A hierarchy with this code exists already.")
HIERARCHY_UNKNOWN = _(95343, 400, "No hierarchy with this code.")
HIERARCHY_ROLE_MISFIT = _(
    95344, 400, "The role is not one of the hierarchy's, or does not fit the customer's place."
)
HIERARCHY_LOOP = _(95345, 400, "The association would make a customer its own ancestor.")
HIERARCHY_PLACED_ELSEWHERE = _(
    95346, 409, "The customer already has another place in the hierarchy."
)
HIERARCHY_COMPANY_UNKNOWN = _(95347, 404, "No company customer with this external id.")
NOTE_UNKNOWN = _(95401, 404, "The customer has no such note.")
NOTE_NOT_YOURS = _(95402, 403, "Only the author of a note may edit it.")
PREFERENCE_DEFINITION_INVALID = _(95411, 400, "A preference key's definition is invalid.")
PREFERENCE_DEFINED_ALREADY = _(95412, 409, "The preference key is defined already.")
TICKET_UNKNOWN = _(95421, 404, "The customer has no such ticket.")
