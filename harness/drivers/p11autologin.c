/*
 * cps-harness PKCS#11 wrapper for headless Chromium: auto-login, and the card offered or not.
 *
 * Headless Chromium cannot show NSS's "Unlock Security Device" dialog, so a navigation that
 * needs the card's key would wait forever. This module wraps the real middleware (OpenSC) and,
 * when a public session is opened on a token that requires login, logs in with the PIN read
 * from the file named by CPS_P11_PIN_FILE. The PIN still reaches the card as a VERIFY:
 * counters, blocking and errors are the card's own. A PIN the card refused is never sent
 * twice: it is written to "<PIN file>.refused", which every Chromium process reads (several
 * load the module), so a wrong PIN costs exactly one try, as when a person gives up after the
 * dialog comes back. The driver deletes that file when the person types a PIN again.
 *
 * While the PIN file does not exist the token is reported absent: the browser offers no
 * certificate, as when the professional does not use the card for that page.
 *
 * Environment: CPS_P11_MODULE (the wrapped module; default OpenSC's), CPS_P11_PIN_FILE,
 * CPS_P11_LOG (optional: one line per login and session, for the run's report),
 * CPS_P11_NO_LOGIN (set: never log in; a person types the PIN into Chromium's dialog).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <p11-kit/pkcs11.h>

#define DEFAULT_MODULE "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

static CK_FUNCTION_LIST_PTR real;
static CK_FUNCTION_LIST wrapped;

static void note(const char *what, CK_SLOT_ID slot, CK_RV rv)
{
    const char *path = getenv("CPS_P11_LOG");
    FILE *file;

    if (path != NULL && (file = fopen(path, "a")) != NULL) {
        fprintf(file, "%s slot=%lu rv=0x%08lx\n", what, (unsigned long)slot, (unsigned long)rv);
        fclose(file);
    }
}

static int offered(void)
{
    const char *path = getenv("CPS_P11_PIN_FILE");

    return path == NULL || access(path, F_OK) == 0;
}

static int read_file(const char *path, char *pin, size_t size)
{
    FILE *file;
    size_t length;

    if (path == NULL || (file = fopen(path, "r")) == NULL)
        return 0;
    length = fread(pin, 1, size - 1, file);
    fclose(file);
    while (length > 0 && (pin[length - 1] == '\n' || pin[length - 1] == '\r'))
        length--;
    pin[length] = '\0';
    return length > 0;
}

static int refused_path(char *path, size_t size)
{
    const char *pin_file = getenv("CPS_P11_PIN_FILE");
    int written = snprintf(path, size, "%s.refused", pin_file != NULL ? pin_file : "");

    return written < 0 || (size_t)written >= size;
}

static void auto_login(CK_SLOT_ID slot, CK_SESSION_HANDLE session)
{
    CK_TOKEN_INFO token;
    CK_SESSION_INFO info;
    char pin[64], previous[64], refused[4096];
    CK_RV rv;

    if (getenv("CPS_P11_NO_LOGIN") != NULL)
        return;
    if (real->C_GetTokenInfo(slot, &token) != CKR_OK || !(token.flags & CKF_LOGIN_REQUIRED))
        return;
    if (real->C_GetSessionInfo(session, &info) != CKR_OK)
        return;
    if (info.state != CKS_RO_PUBLIC_SESSION && info.state != CKS_RW_PUBLIC_SESSION)
        return; /* already logged in */
    if (!read_file(getenv("CPS_P11_PIN_FILE"), pin, sizeof pin) || refused_path(refused, sizeof refused) != 0)
        return;
    if (read_file(refused, previous, sizeof previous) && strcmp(pin, previous) == 0)
        return;
    rv = real->C_Login(session, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin));
    note("C_Login", slot, rv);
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_LEN_RANGE) {
        FILE *file = fopen(refused, "w");

        if (file != NULL) {
            fputs(pin, file);
            fclose(file);
        }
    }
}

static CK_RV get_slot_list(CK_BBOOL token_present, CK_SLOT_ID_PTR slots, CK_ULONG_PTR count)
{
    if (token_present && !offered()) {
        if (count == NULL)
            return CKR_ARGUMENTS_BAD;
        *count = 0;
        return CKR_OK;
    }
    return real->C_GetSlotList(token_present, slots, count);
}

static CK_RV get_slot_info(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
    CK_RV rv = real->C_GetSlotInfo(slot, info);

    if (rv == CKR_OK && !offered())
        info->flags &= ~(CK_FLAGS)CKF_TOKEN_PRESENT;
    return rv;
}

static CK_RV get_token_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    if (!offered())
        return CKR_TOKEN_NOT_PRESENT;
    return real->C_GetTokenInfo(slot, info);
}

static CK_RV open_session(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR application, CK_NOTIFY notify,
                          CK_SESSION_HANDLE_PTR session)
{
    CK_RV rv;

    if (!offered())
        return CKR_TOKEN_NOT_PRESENT;
    rv = real->C_OpenSession(slot, flags, application, notify, session);
    note("C_OpenSession", slot, rv);
    if (rv == CKR_OK)
        auto_login(slot, *session);
    return rv;
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    const char *path = getenv("CPS_P11_MODULE");
    CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
    void *library;

    if (list == NULL)
        return CKR_ARGUMENTS_BAD;
    if (real == NULL) {
        library = dlopen(path != NULL ? path : DEFAULT_MODULE, RTLD_NOW | RTLD_LOCAL);
        if (library == NULL)
            return CKR_GENERAL_ERROR;
        get_list = (CK_RV(*)(CK_FUNCTION_LIST_PTR_PTR))dlsym(library, "C_GetFunctionList");
        if (get_list == NULL || get_list(&real) != CKR_OK)
            return CKR_GENERAL_ERROR;
        wrapped = *real;
        wrapped.C_GetSlotList = get_slot_list;
        wrapped.C_GetSlotInfo = get_slot_info;
        wrapped.C_GetTokenInfo = get_token_info;
        wrapped.C_OpenSession = open_session;
    }
    *list = &wrapped;
    return CKR_OK;
}
