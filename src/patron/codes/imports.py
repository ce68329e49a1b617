"""Codes of the import engine (and the legacy batch API, which runs imports).

96xxx: the file, the mapping or the import itself (the request fails).
97xxx: one row (the row is rejected or skipped; the import goes on): 970xx any profile,
       971xx card series and cards, 972xx coupon redemption, 973xx customer status,
       fraud status, user subscription and entity lifecycle, 974xx V2 profile identifiers,
       975xx the legacy batch API's customers.
The report and the rows API give each row's codes with a message in plain words.
"""

from __future__ import annotations

from enum import IntEnum

from patron.codes import ROW, Domain

DOMAIN = Domain(
    "Imports",
    "The import engine (files, mappings, imports: the request fails) and its row codes "
    "(one row is rejected or skipped, the import goes on), also answered by the legacy batch "
    "API.",
)
_ = DOMAIN.code


class RowCode(IntEnum):
    EMAIL_OF_OTHER_CUSTOMER = 97001
    MOBILE_OF_OTHER_CUSTOMER = 97002
    MOBILE_CHANGE_NOT_ALLOWED = 97003
    OTHER_EXTERNAL_ID_ON_CUSTOMER = 97004
    EXTERNAL_ID_OF_OTHER_CUSTOMER = 97005
    DUPLICATE_MOBILE_IN_FILE = 97006
    DUPLICATE_EMAIL_IN_FILE = 97007
    DUPLICATE_EXTERNAL_ID_IN_FILE = 97008
    INVALID_MOBILE = 97009
    INVALID_EMAIL = 97010
    CUSTOMER_INACTIVE = 97011
    CUSTOMER_FRAUD = 97012
    INVALID_NAME = 97013
    JOIN_DATE_INVALID = 97014
    JOIN_DATE_EMPTY = 97015
    JOIN_DATE_IN_FUTURE = 97016
    STORE_UNKNOWN = 97017
    STORE_EMPTY = 97018
    IDENTIFIER_EMPTY = 97019
    INVALID_NUMBER = 97020
    USER_ID_UNKNOWN = 97021
    INVALID_FIELD_VALUE = 97022
    DELETED_CUSTOMER = 97023
    EXISTING_NOT_UPDATED = 97024
    REGISTRATION_DATE_INVALID = 97025
    INVALID_EXTERNAL_ID = 97026
    CUSTOMER_UNKNOWN = 97027
    DUPLICATE_CUSTOMER_IN_FILE = 97028
    # Customer Status Import.
    STATUS_LABEL_EMPTY = 97301
    STATUS_LABEL_UNKNOWN = 97302
    # V2 Profile Identifier Add/Update.
    V2_SOURCE_UNKNOWN = 97401
    V2_ACCOUNT_ID_MISSING = 97402
    V2_IDENTIFIER_TYPE_UNKNOWN = 97403
    V2_IDENTIFIER_VALUE_INVALID = 97404
    V2_DUPLICATE_IDENTIFIER_IN_FILE = 97405
    V2_DUPLICATE_TARGET_IN_FILE = 97406
    V2_HELD_ON_SAME_SOURCE = 97407
    V2_SHARED_SOURCE = 97408
    V2_EXISTING_IDENTIFIER = 97409
    V2_CARD_NUMBER = 97410
    V2_MERGE_CROSSES_ROWS = 97411
    V2_ACCOUNT_ID_INVALID = 97412
    # Update Fraud Status, User Subscription and Entity Life Cycle (97311-97399).
    FRAUD_STATUS_INVALID = 97311
    FRAUD_REASON_EMPTY = 97312
    FRAUD_REASON_INVALID = 97313
    CHANNEL_INVALID = 97321
    PRIORITY_INVALID = 97322
    SUBSCRIPTION_STATUS_INVALID = 97323
    ORG_UNIT_UNKNOWN = 97324
    ACCOUNT_NAME_INVALID = 97325
    DUPLICATE_SUBSCRIPTION_IN_FILE = 97326
    ENTITY_TYPE_INVALID = 97341
    EVENT_FIELD_EMPTY = 97342
    EVENT_FIELD_INVALID = 97343
    UPDATED_ON_INVALID = 97344
    DUPLICATE_EVENT_IN_FILE = 97345
    # Coupon Redemption (97201-97299).
    COUPON_SERIES_ID_INVALID = 97201
    COUPON_SERIES_UNKNOWN = 97202
    COUPON_CODE_EMPTY = 97203
    COUPON_UNKNOWN = 97204
    COUPON_OF_OTHER_CUSTOMER = 97205
    COUPON_LIMIT_REACHED = 97206
    COUPON_CUSTOMER_LIMIT_REACHED = 97207
    REDEMPTION_DATE_EMPTY = 97208
    REDEMPTION_DATE_INVALID = 97209
    REDEMPTION_DATE_IN_FUTURE = 97210
    REDEMPTION_DATE_OUT_OF_RANGE = 97211
    REDEMPTION_TRANSACTION_EMPTY = 97212
    REDEMPTION_TRANSACTION_INVALID = 97213
    REDEMPTION_TRANSACTION_UNKNOWN = 97214
    DUPLICATE_COUPON_IN_FILE = 97215
    COUPON_ALREADY_REDEEMED = 97216

    # Card Series Import and Card Import (97101-97199).
    SERIES_CODE_EMPTY = 97101
    SERIES_CODE_INVALID = 97102
    CARD_TYPE_INVALID = 97103
    CARD_AFFIX_INVALID = 97104
    CARD_LENGTH_INVALID = 97105
    EXPIRY_DAYS_INVALID = 97106
    GENERATION_FLAG_INVALID = 97107
    DUPLICATE_SERIES_IN_FILE = 97108
    SERIES_DESCRIPTION_INVALID = 97109
    SERIES_CHANGE_MISFITS_CARDS = 97110
    CARD_NUMBER_EMPTY = 97111
    CARD_NUMBER_INVALID = 97112
    SERIES_UNKNOWN = 97113
    CARD_NUMBER_NOT_IN_SERIES = 97114
    CARD_STATUS_LABEL_EMPTY = 97115
    CARD_STATUS_LABEL_UNKNOWN = 97116
    DUPLICATE_CARD_IN_FILE = 97117
    CARD_OF_OTHER_CUSTOMER = 97118
    CARD_IN_OTHER_SERIES = 97119
    CARD_EXTERNAL_ID_INVALID = 97120
    DUPLICATE_CARD_EXTERNAL_ID_IN_FILE = 97121
    CARD_EXTERNAL_ID_OF_OTHER_CARD = 97122

    # <legacy batch customers> (97501-97599).
    LEGACY_LINE_CELLS = 97501
    LEGACY_CODE_INVALID = 97502
    LEGACY_CARD_NUMBER_INVALID = 97503
    LEGACY_CUSTOM_DATE_INVALID = 97504
    LEGACY_TEXT_INVALID = 97505
    LEGACY_USERNAME_INVALID = 97506
    LEGACY_PASSWORD_INVALID = 97507
    LEGACY_PIN_INVALID = 97508
    LEGACY_AUTO_ADD_INVALID = 97509
    LEGACY_AUTO_ADD_WITHOUT_CAMPAIGN = 97510
    LEGACY_DUPLICATE_CODE_IN_FILE = 97511
    LEGACY_DUPLICATE_CARD_IN_FILE = 97512
    LEGACY_DUPLICATE_USERNAME_IN_FILE = 97513
    LEGACY_CARD_OF_OTHER_CUSTOMER = 97514
    LEGACY_OTHER_CARD_ON_CUSTOMER = 97515
    LEGACY_USERNAME_OF_OTHER_CUSTOMER = 97516
    LEGACY_EXISTING_IGNORED = 97517


#: Import-level codes (raised as ``InvalidInput`` / ``Conflict``).
FILE_TOO_LARGE = _(96001, 400, "The file is larger than an import takes.")
TOO_MANY_ROWS = _(96002, 400, "The file has more data rows than an import takes: split it.")
TOO_MANY_COLUMNS = _(96003, 400, "The file has more columns than an import takes.")
CELL_TOO_LONG = _(96004, 400, "A cell is longer than an import takes.")
UNSUPPORTED_FILE = _(
    96005, 400, "The file type is not one an import reads (CSV, TSV, XLSX, XLS, ODS)."
)
UNREADABLE_FILE = _(
    96006, 400, "The file cannot be read as its type (damaged, encrypted, or another type)."
)
SEVERAL_SHEETS = _(
    96007, 400, "The workbook has several sheets with data: put each in its own file."
)
NO_DATA = _(96008, 400, "The file, paste or batch holds no data row.")
RAGGED_ROW = _(
    96009,
    400,
    "A row has another number of cells than the header: check the delimiter and quoting.",
)
DUPLICATE_HEADER = _(96010, 400, "Two columns have the same header.")
TOO_MANY_PASTED_ROWS = _(96011, 400, "More rows were pasted than a paste takes: upload a file.")
MAPPING_UNKNOWN_COLUMN = _(96101, 400, "The mapping names a column the file does not have.")
MAPPING_UNKNOWN_FIELD = _(96102, 400, "The mapping names a field the profile does not have.")
MAPPING_MISSING_FIELD = _(96103, 400, "A field the profile needs is not mapped.")
MAPPING_FIELD_TWICE = _(96104, 400, "A field is mapped from two columns.")
INVALID_OPTION = _(96105, 400, "An import option (or template option) is invalid.")
TEMPLATE_EXISTS = _(96106, 409, "An import template of this profile and name exists.")
UNKNOWN_PROFILE = _(96107, 400, "No import profile of this name.")
MAPPING_UNCERTAIN = _(96108, 400, "The suggested mapping is not certain: choose it (command line).")
WRONG_STATE = _(96201, 409, "The import is not in a state that allows the action.")
REPLAY_EXPIRED = _(96202, 409, "The import failed too long ago to be run again: upload it again.")
UNKNOWN_IMPORT = _(96203, "404, 409", "No such import in the org.")
UNKNOWN_TEMPLATE = _(96204, 404, "No such import template in the org.")
IMPORT_NOT_DONE = _(
    96205, "409, 500", "The import did not end committed (legacy batch API, command line)."
)
NO_UNDO_STATE = _(96206, 409, "The import was committed without an undo state.")
FILES_PURGED = _(96207, 409, "The import's file, results and undo data were deleted by retention.")
RESUBMIT_ROW_INVALID = _(
    96208,
    400,
    "A resubmit names no row, a row the import does not have, or a row it did not reject.",
)
RESUBMIT_COLUMN_INVALID = _(
    96209, 400, "A resubmit changes a column the import did not map (or the file does not have)."
)
CONSENT_INVALID = _(
    96109,
    400,
    "The consent to record names an unknown channel or status, or the profile takes none.",
)

ROW_MEANINGS: dict[RowCode, str] = {
    RowCode.EMAIL_OF_OTHER_CUSTOMER: (
        "The email is already present for another registered customer."
    ),
    RowCode.MOBILE_OF_OTHER_CUSTOMER: (
        "The mobile number is already registered for another customer."
    ),
    RowCode.MOBILE_CHANGE_NOT_ALLOWED: (
        "The row would change an existing customer's mobile number, which an import may not do."
    ),
    RowCode.OTHER_EXTERNAL_ID_ON_CUSTOMER: "The customer already has another external id.",
    RowCode.EXTERNAL_ID_OF_OTHER_CUSTOMER: (
        "The external id (or card number) is already registered for another customer."
    ),
    RowCode.DUPLICATE_MOBILE_IN_FILE: (
        "The mobile number appears on several rows of the file: all of them are rejected."
    ),
    RowCode.DUPLICATE_EMAIL_IN_FILE: (
        "The email appears on several rows of the file: all of them are rejected."
    ),
    RowCode.DUPLICATE_EXTERNAL_ID_IN_FILE: (
        "The external id appears on several rows of the file: all of them are rejected."
    ),
    RowCode.INVALID_MOBILE: "The mobile number is invalid (the org's rules for mobile numbers).",
    RowCode.INVALID_EMAIL: "The email is invalid.",
    RowCode.CUSTOMER_INACTIVE: "The customer is not active.",
    RowCode.CUSTOMER_FRAUD: "The customer is marked as fraud.",
    RowCode.INVALID_NAME: "A name is invalid (too long or not printable).",
    RowCode.JOIN_DATE_INVALID: "The join date is not a date.",
    RowCode.JOIN_DATE_EMPTY: "The join date is empty.",
    RowCode.JOIN_DATE_IN_FUTURE: "The join date is in the future.",
    RowCode.STORE_UNKNOWN: "The store or till is not one of the org.",
    RowCode.STORE_EMPTY: "The store or till is empty.",
    RowCode.IDENTIFIER_EMPTY: "The row carries no identifier of the customer.",
    RowCode.INVALID_NUMBER: "A number is invalid.",
    RowCode.USER_ID_UNKNOWN: "No customer has this user id.",
    RowCode.INVALID_FIELD_VALUE: "A field's value is invalid.",
    RowCode.DELETED_CUSTOMER: "The customer was deleted.",
    RowCode.EXISTING_NOT_UPDATED: (
        "The customer exists and the import does not update existing customers: the row is skipped."
    ),
    RowCode.REGISTRATION_DATE_INVALID: "The registration date is invalid.",
    RowCode.INVALID_EXTERNAL_ID: "The external id is invalid.",
    RowCode.CUSTOMER_UNKNOWN: "No customer matches the row's identifier.",
    RowCode.DUPLICATE_CUSTOMER_IN_FILE: "The same customer is on several rows of the file.",
    RowCode.STATUS_LABEL_EMPTY: "The customer status label is empty.",
    RowCode.STATUS_LABEL_UNKNOWN: "The customer status label is not one of the org.",
    RowCode.V2_SOURCE_UNKNOWN: "The source is unknown.",
    RowCode.V2_ACCOUNT_ID_MISSING: "The source needs an account id and the row has none.",
    RowCode.V2_IDENTIFIER_TYPE_UNKNOWN: "The identifier type is unknown.",
    RowCode.V2_IDENTIFIER_VALUE_INVALID: "The identifier value is invalid for its type.",
    RowCode.V2_DUPLICATE_IDENTIFIER_IN_FILE: "The identifier appears on several rows of the file.",
    RowCode.V2_DUPLICATE_TARGET_IN_FILE: (
        "The same customer, source and identifier type are on several rows of the file."
    ),
    RowCode.V2_HELD_ON_SAME_SOURCE: (
        "The identifier is held by another customer on the same source."
    ),
    RowCode.V2_SHARED_SOURCE: (
        "The identifier is held by another customer on another source: adding it would merge them."
    ),
    RowCode.V2_EXISTING_IDENTIFIER: "The customer already has this identifier.",
    RowCode.V2_CARD_NUMBER: "Card numbers are issued by the card imports, not by this profile.",
    RowCode.V2_MERGE_CROSSES_ROWS: (
        "The merge the row asks for involves customers of other rows of the file."
    ),
    RowCode.V2_ACCOUNT_ID_INVALID: "The account id is invalid.",
    RowCode.FRAUD_STATUS_INVALID: "The fraud status is invalid.",
    RowCode.FRAUD_REASON_EMPTY: "The fraud reason is empty.",
    RowCode.FRAUD_REASON_INVALID: "The fraud reason is invalid.",
    RowCode.CHANNEL_INVALID: "The subscription channel is invalid.",
    RowCode.PRIORITY_INVALID: "The subscription priority is invalid.",
    RowCode.SUBSCRIPTION_STATUS_INVALID: "The subscription status is invalid.",
    RowCode.ORG_UNIT_UNKNOWN: "The org unit is not one of the org.",
    RowCode.ACCOUNT_NAME_INVALID: "The account name is invalid.",
    RowCode.DUPLICATE_SUBSCRIPTION_IN_FILE: "The same subscription is on several rows of the file.",
    RowCode.ENTITY_TYPE_INVALID: "The entity type is invalid.",
    RowCode.EVENT_FIELD_EMPTY: "A field of the life cycle event is empty.",
    RowCode.EVENT_FIELD_INVALID: "A field of the life cycle event is invalid.",
    RowCode.UPDATED_ON_INVALID: "The updated-on date is invalid.",
    RowCode.DUPLICATE_EVENT_IN_FILE: "The same life cycle event is on several rows of the file.",
    RowCode.COUPON_SERIES_ID_INVALID: "The coupon series id is invalid.",
    RowCode.COUPON_SERIES_UNKNOWN: "The coupon series is not one of the org.",
    RowCode.COUPON_CODE_EMPTY: "The coupon code is empty.",
    RowCode.COUPON_UNKNOWN: "No such coupon in the series.",
    RowCode.COUPON_OF_OTHER_CUSTOMER: "The coupon was issued to another customer.",
    RowCode.COUPON_LIMIT_REACHED: "The coupon has been redeemed as often as it may be.",
    RowCode.COUPON_CUSTOMER_LIMIT_REACHED: (
        "The customer has redeemed the series as often as a customer may."
    ),
    RowCode.REDEMPTION_DATE_EMPTY: "The redemption date is empty.",
    RowCode.REDEMPTION_DATE_INVALID: "The redemption date is invalid.",
    RowCode.REDEMPTION_DATE_IN_FUTURE: "The redemption date is in the future.",
    RowCode.REDEMPTION_DATE_OUT_OF_RANGE: "The redemption date is outside the coupon's validity.",
    RowCode.REDEMPTION_TRANSACTION_EMPTY: "The redemption's transaction number is empty.",
    RowCode.REDEMPTION_TRANSACTION_INVALID: "The redemption's transaction number is invalid.",
    RowCode.REDEMPTION_TRANSACTION_UNKNOWN: "No transaction of the customer has this number.",
    RowCode.DUPLICATE_COUPON_IN_FILE: "The same coupon is on several rows of the file.",
    RowCode.COUPON_ALREADY_REDEEMED: "The coupon is already redeemed.",
    RowCode.SERIES_CODE_EMPTY: "The card series code is empty.",
    RowCode.SERIES_CODE_INVALID: "The card series code is invalid.",
    RowCode.CARD_TYPE_INVALID: "The card type is invalid.",
    RowCode.CARD_AFFIX_INVALID: "The card number prefix or suffix is invalid.",
    RowCode.CARD_LENGTH_INVALID: "The card number length is invalid.",
    RowCode.EXPIRY_DAYS_INVALID: "The card expiry in days is invalid.",
    RowCode.GENERATION_FLAG_INVALID: "The card number generation flag is invalid.",
    RowCode.DUPLICATE_SERIES_IN_FILE: "The same card series is on several rows of the file.",
    RowCode.SERIES_DESCRIPTION_INVALID: "The card series description is invalid.",
    RowCode.SERIES_CHANGE_MISFITS_CARDS: (
        "The change of the card series would not fit its existing cards."
    ),
    RowCode.CARD_NUMBER_EMPTY: "The card number is empty.",
    RowCode.CARD_NUMBER_INVALID: "The card number is invalid.",
    RowCode.SERIES_UNKNOWN: "The card series is not one of the org.",
    RowCode.CARD_NUMBER_NOT_IN_SERIES: "The card number does not fit its series.",
    RowCode.CARD_STATUS_LABEL_EMPTY: "The card status label is empty.",
    RowCode.CARD_STATUS_LABEL_UNKNOWN: "The card status label is not one of the org.",
    RowCode.DUPLICATE_CARD_IN_FILE: "The same card number is on several rows of the file.",
    RowCode.CARD_OF_OTHER_CUSTOMER: "The card belongs to another customer.",
    RowCode.CARD_IN_OTHER_SERIES: "The card number belongs to another series.",
    RowCode.CARD_EXTERNAL_ID_INVALID: "The card external id is invalid.",
    RowCode.DUPLICATE_CARD_EXTERNAL_ID_IN_FILE: (
        "The same card external id is on several rows of the file."
    ),
    RowCode.CARD_EXTERNAL_ID_OF_OTHER_CARD: "The card external id already names another card.",
    RowCode.LEGACY_LINE_CELLS: (
        "The line has another number of cells than the header (legacy batch API)."
    ),
    RowCode.LEGACY_CODE_INVALID: "The customer code is invalid (legacy batch API).",
    RowCode.LEGACY_CARD_NUMBER_INVALID: "The card number is invalid (legacy batch API).",
    RowCode.LEGACY_CUSTOM_DATE_INVALID: "A custom date is invalid (legacy batch API).",
    RowCode.LEGACY_TEXT_INVALID: "A text field is invalid (legacy batch API).",
    RowCode.LEGACY_USERNAME_INVALID: "The customer user name is invalid (legacy batch API).",
    RowCode.LEGACY_PASSWORD_INVALID: "The customer password is invalid (legacy batch API).",
    RowCode.LEGACY_PIN_INVALID: "The customer PIN is invalid (legacy batch API).",
    RowCode.LEGACY_AUTO_ADD_INVALID: "auto_add is invalid (legacy batch API).",
    RowCode.LEGACY_AUTO_ADD_WITHOUT_CAMPAIGN: "auto_add names no campaign (legacy batch API).",
    RowCode.LEGACY_DUPLICATE_CODE_IN_FILE: (
        "The same customer code is on several lines of the batch."
    ),
    RowCode.LEGACY_DUPLICATE_CARD_IN_FILE: "The same card number is on several lines of the batch.",
    RowCode.LEGACY_DUPLICATE_USERNAME_IN_FILE: (
        "The same user name is on several lines of the batch."
    ),
    RowCode.LEGACY_CARD_OF_OTHER_CUSTOMER: (
        "The card number belongs to another customer (legacy batch API)."
    ),
    RowCode.LEGACY_OTHER_CARD_ON_CUSTOMER: (
        "The customer already has another card number (legacy batch API)."
    ),
    RowCode.LEGACY_USERNAME_OF_OTHER_CUSTOMER: (
        "The user name belongs to another customer (legacy batch API)."
    ),
    RowCode.LEGACY_EXISTING_IGNORED: (
        "The customer exists and overwrite_duplicates=ignore: the line is skipped (legacy batch "
        "API)."
    ),
}
DOMAIN.members(RowCode, ROW, ROW_MEANINGS)
