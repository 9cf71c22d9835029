; Handshake Doctor's Windows installer (NSIS 3): a per-user install that needs no admin rights.
;
;   makensis -NOCD -DVERSION=0.1.0 -DSOURCE_DIR=dist\handshake-doctor -DOUT_FILE=dist\setup.exe ^
;            [-DSIGN="bash packaging/windows/sign.sh"] packaging\windows\handshake-doctor.nsi
;
; SOURCE_DIR is PyInstaller's onedir build (handshake-doctor.exe and _internal\). The program goes
; to %LOCALAPPDATA%\Programs\Handshake Doctor, with a Start-menu shortcut, an "Apps & features"
; entry under HKCU and an uninstaller that removes exactly what was installed.

Unicode true
SetCompressor /SOLID lzma
RequestExecutionLevel user
ManifestDPIAware true

!ifndef VERSION
  !error "pass -DVERSION=x.y.z (checks/core/version.py)"
!endif
!ifndef SOURCE_DIR
  !error "pass -DSOURCE_DIR=<the PyInstaller onedir folder>"
!endif
!ifndef OUT_FILE
  !define OUT_FILE "handshake-doctor-${VERSION}-windows-x64-setup.exe"
!endif
!ifndef ICON
  !define ICON "${__FILEDIR__}\..\icon\handshake-doctor.ico"
!endif
; SIGN is a command that signs the file named after it in place (packaging/windows/sign.sh). The
; uninstaller is written into the installer, so it can only be signed here, while makensis runs.
!ifdef SIGN
  !uninstfinalize '${SIGN} "%1"' = 0
  !finalize '${SIGN} "%1"' = 0
!endif

!define APP_NAME "Handshake Doctor"
!define APP_EXE "handshake-doctor.exe"
!define PUBLISHER "Handshake Doctor"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\HandshakeDoctor"
!define APP_PATHS_KEY "Software\Microsoft\Windows\CurrentVersion\App Paths\${APP_EXE}"

Name "${APP_NAME}"
OutFile "${OUT_FILE}"
InstallDir "$LOCALAPPDATA\Programs\${APP_NAME}"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
BrandingText "${APP_NAME} ${VERSION}"

; --- Version stamping (the installer's own Details tab) -------------------------------------------
VIProductVersion "${VERSION}.0"
VIAddVersionKey /LANG=0 "ProductName" "${APP_NAME}"
VIAddVersionKey /LANG=0 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "FileDescription" "${APP_NAME} installer"
VIAddVersionKey /LANG=0 "CompanyName" "${PUBLISHER}"
VIAddVersionKey /LANG=0 "LegalCopyright" "MIT License"

; --- Pages --------------------------------------------------------------------------------------
!include "MUI2.nsh"
!include "FileFunc.nsh"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\${APP_EXE}"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES

; NSIS picks the one matching the user's Windows language.
!insertmacro MUI_LANGUAGE "English"
!insertmacro MUI_LANGUAGE "SimpChinese"

Function .onInit
  ; Per-user shortcuts and registry, even when started by an administrator.
  SetShellVarContext current
FunctionEnd

Function un.onInit
  SetShellVarContext current
FunctionEnd

; --- Install ------------------------------------------------------------------------------------
Section "Handshake Doctor" SecMain
  SectionIn RO
  SetOutPath "$INSTDIR"
  ; An earlier version's bundle goes first, so that no stale library is left to load.
  RMDir /r "$INSTDIR\_internal"
  File "${SOURCE_DIR}\${APP_EXE}"
  File /r "${SOURCE_DIR}\_internal"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortcut "$SMPROGRAMS\${APP_NAME}.lnk" "$INSTDIR\${APP_EXE}" "" "$INSTDIR\${APP_EXE}" 0

  ; "Apps & features" entry for this user.
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\${APP_EXE},0"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "EstimatedSize" "$0"

  ; `handshake-doctor` from the Run dialog (Win+R) and Start search.
  WriteRegStr HKCU "${APP_PATHS_KEY}" "" "$INSTDIR\${APP_EXE}"
  WriteRegStr HKCU "${APP_PATHS_KEY}" "Path" "$INSTDIR"
SectionEnd

; --- Uninstall: exactly what was installed, never the folder's other contents --------------------
Section "Uninstall"
  Delete "$SMPROGRAMS\${APP_NAME}.lnk"
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${APP_EXE}"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  DeleteRegKey HKCU "${APP_PATHS_KEY}"
  ; The settings in %APPDATA%\Handshake Doctor are the user's and are kept.
SectionEnd
